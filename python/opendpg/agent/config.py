"""The provider agent's config file (TOML), e.g.::

    name = "provider-0"
    state_dir = "state/provider-0"
    key_file = "provider-0.key"          # or OPENDPG_PRIVATE_KEY

    [chain]
    rpc_url = "http://127.0.0.1:8545"
    ws_url = "ws://127.0.0.1:8545"
    deployment_file = "deployment.json"
    ipfs_api = "http://127.0.0.1:5001"

    [node]                               # registered on-chain; stake in whole tokens
    cpu_cores = 2
    stake = "200"

    [data.7]                             # DPG-registry dataset asset 7, held here in our own files
    path = "/srv/records"                # CSV/Parquet/JSON Lines file or folder, image folder, save_to_disk folder
    privacy_budget = 8.0                 # the total DP epsilon any jobs may spend on these records
    privacy_delta = 1e-5                 # ... at this delta (a job's delta must not be larger)
    requires_dp = true                   # take only jobs that train with DP-SGD
    drop_bad_rows = false                # leave out (and count) records that break the schema, instead of refusing

    [data."sklearn/digits"]              # simulations: this node's slice of a bundled set
    share_index = 0
    share_count = 3

    [policy]
    min_reward_per_round = "1"           # whole tokens

    [flower]                             # this node's SuperNodes
    poll_min = 0.05                      # seconds between pulls after a message (the SuperLink holds empty ones)
    poll_max = 1.0                       # the longest pause when a SuperLink does not hold pulls
    insecure = false                     # also take jobs of a plaintext (development) SuperLink
    stock = false                        # Flower's own SuperNode (a ClientApp process per message), for comparison
    worker = "thread"                    # the ClientApp in a thread of the SuperNode; "process": its own process

    [disputes]                           # when a coordinator leaves out an update of ours that passes every check
    auto = true                          # dispute it (the DPG committee decides; the bond comes back if upheld)
    max_bond = "100"                     # whole tokens: never bond more
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from opendpg.agent.policy import ProviderProfile
from opendpg.fl.data import CATALOG
from opendpg.node.config import DaemonConfig, StrictSection, load_toml, tokens

__all__ = ["AgentConfig", "DataSection", "DisputesSection", "FlowerSection", "PolicySection", "load_agent_config"]


class DataSection(StrictSection):
    """A dataset held here. Under a dataset asset's id (``[data.7]``): the holder's own files at ``path`` and
    the privacy it allows on them. Under a bundled catalog id (``[data."sklearn/digits"]``, simulations only):
    the slice this node plays."""

    path: Path | None = Field(default=None, description="the records: a file or a folder")
    drop_bad_rows: bool = Field(default=False, description="leave out records that break the schema (counted in "
                                                           "the log) instead of refusing the data")
    privacy_budget: Annotated[float, Field(ge=0, le=1_000_000)] | None = Field(
        default=None, description="total differential-privacy epsilon jobs may spend on these records")
    privacy_delta: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=1e-5, description="the delta of the budget: a job's delta may not be larger")
    requires_dp: bool = Field(default=False, description="take only jobs that train with DP-SGD on these records")
    share_index: Annotated[int, Field(ge=0)] = 0
    share_count: Annotated[int, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _index_in_range(self) -> DataSection:
        if self.share_index >= self.share_count:
            raise ValueError(f"share_index {self.share_index} must be below share_count {self.share_count}")
        return self

    @property
    def budget(self) -> float:
        return self.privacy_budget or 0.0


class PolicySection(StrictSection):
    min_reward_per_round: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    accepted_tokens: list[str] = Field(default_factory=list, description="payment token addresses; empty: any")
    trusted_coordinators: list[str] = Field(
        default_factory=list, description="coordinator addresses this node trains for; empty: any")
    spec_retry_interval: Annotated[float, Field(ge=0, le=86400)] = Field(
        default=30.0, description="seconds between tries to fetch a spec that did not resolve yet")
    min_round_timeout: Annotated[int, Field(ge=1)] = Field(
        default=60, description="refuse jobs whose round timeout (seconds) leaves less time to train")
    max_round_timeout: Annotated[int, Field(ge=1)] = Field(
        default=86_400, description="refuse jobs whose round timeout (seconds) holds the stake longer per round")
    max_join_wait: Annotated[int, Field(ge=0)] = Field(
        default=7 * 86_400, description="refuse jobs whose join deadline is further away (seconds)")
    max_job_duration: Annotated[int, Field(ge=1)] = Field(
        default=30 * 86_400, description="refuse jobs that may hold the stake longer (seconds): to the start "
                                         "deadline, then two round timeouts per round")

    @model_validator(mode="after")
    def _timeouts_ordered(self) -> PolicySection:
        if self.max_round_timeout < self.min_round_timeout:
            raise ValueError(f"max_round_timeout {self.max_round_timeout} is below min_round_timeout "
                             f"{self.min_round_timeout}")
        return self


class DisputesSection(StrictSection):
    """Whether the agent disputes the exclusion of its own updates, checked first as the committee would."""

    auto: bool = Field(default=True, description="dispute an excluded update that passes every check")
    max_bond: Annotated[Decimal, Field(ge=0)] = Field(
        default=Decimal(100), description="whole tokens: the most this node bonds for one dispute")


class FlowerSection(StrictSection):
    """How this node's SuperNodes run and whom they connect to."""

    poll_min: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.05, description="seconds between pulls right after a message (empty pulls are held)")
    poll_max: Annotated[float, Field(gt=0, le=60)] = Field(
        default=1.0, description="the longest pause between pulls to a SuperLink that does not hold them")
    insecure: bool = Field(default=False, description="also take jobs whose coordinator runs a plaintext "
                                                      "SuperLink: development only")
    stock: bool = Field(default=False, description="Flower's own SuperNode: a ClientApp process per message")
    worker: Literal["thread", "process"] = Field(
        default="thread", description="where the warm ClientApp runs: a thread of the SuperNode's own process "
                                      "(fastest), or a worker process of its own that the SuperNode restarts if it "
                                      "dies (a crash in training then leaves the SuperNode up)")
    threads: Annotated[int, Field(ge=0, le=1024)] = Field(
        default=0, description="CPU threads for the provider's training and evaluation (torch's intra-op threads); "
                               "0: torch's default, every core. Set 1 where several providers share one host")

    @model_validator(mode="after")
    def _polls_ordered(self) -> FlowerSection:
        if self.poll_max < self.poll_min:
            raise ValueError(f"poll_max {self.poll_max} is below poll_min {self.poll_min}")
        return self


class AgentConfig(DaemonConfig):
    data: dict[str, DataSection] = Field(default_factory=dict)
    policy: PolicySection = PolicySection()
    disputes: DisputesSection = DisputesSection()
    flower: FlowerSection = FlowerSection()

    @model_validator(mode="after")
    def _known_datasets(self) -> AgentConfig:
        for key, section in self.data.items():
            if key.isdigit():
                if int(key) < 1 or section.path is None:
                    raise ValueError(f"data.{key}: a held dataset asset needs path (the records' file or folder)")
                if section.privacy_budget is None:
                    raise ValueError(f"data.{key}: set privacy_budget, the total DP epsilon jobs may spend on these "
                                     "records (0 takes only jobs without DP-SGD unless requires_dp)")
                if section.requires_dp and section.budget == 0:
                    raise ValueError(f"data.{key}: requires_dp with a privacy_budget of 0 can take no job")
            elif key not in CATALOG:
                raise ValueError(f"data: {key!r} is neither a dataset asset id nor a bundled catalog id "
                                 f"(known: {sorted(CATALOG)})")
            elif section.path is not None:
                raise ValueError(f"data.{key}: a bundled catalog set is sliced (share_index, share_count), not read "
                                 "from a path; hold your own records under their dataset asset's id")
        return self

    @property
    def catalog(self) -> list[str]:
        """The bundled catalog sets this node plays in simulations (declared in its node capabilities)."""
        return sorted(k for k in self.data if not k.isdigit())

    @property
    def assets(self) -> dict[int, DataSection]:
        """The dataset assets held here in the node's own files, by asset id."""
        return {int(k): v for k, v in self.data.items() if k.isdigit()}

    def profile(self) -> ProviderProfile:
        return ProviderProfile(datasets=frozenset(self.catalog), assets=frozenset(self.assets),
                               gpu_memory_mib=self.node.gpu()[1],
                               cpu_cores=self.node.cpu_cores,
                               min_reward_per_round=tokens(self.policy.min_reward_per_round),
                               accepted_tokens=frozenset(self.policy.accepted_tokens),
                               trusted_coordinators=frozenset(self.policy.trusted_coordinators),
                               min_round_timeout=self.policy.min_round_timeout,
                               max_round_timeout=self.policy.max_round_timeout,
                               max_join_wait=self.policy.max_join_wait,
                               max_job_duration=self.policy.max_job_duration)


def load_agent_config(path: Path) -> AgentConfig:
    """The agent's config; a relative data ``path`` is taken relative to the config file's folder."""
    config = load_toml(AgentConfig, path)
    base = path.resolve().parent
    data: dict[str, Any] = {k: v.model_copy(update={"path": base / v.path}) if v.path and not v.path.is_absolute()
                            else v for k, v in config.data.items()}
    return config.model_copy(update={"data": data})
