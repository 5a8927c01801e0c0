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

    [data."sklearn/digits"]              # datasets held here: this node's share of the catalog set
    share_index = 0
    share_count = 3

    [policy]
    min_reward_per_round = "1"           # whole tokens

    [disputes]                           # when a coordinator leaves out an update of ours that passes every check
    auto = true                          # dispute it (the DPG committee decides; the bond comes back if upheld)
    max_bond = "100"                     # whole tokens: never bond more
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from opendpg.agent.policy import ProviderProfile
from opendpg.fl.data import CATALOG
from opendpg.node.config import DaemonConfig, StrictSection, load_toml, tokens

__all__ = ["AgentConfig", "DataShare", "DisputesSection", "PolicySection", "load_agent_config"]


class DataShare(StrictSection):
    share_index: Annotated[int, Field(ge=0)] = 0
    share_count: Annotated[int, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _index_in_range(self) -> DataShare:
        if self.share_index >= self.share_count:
            raise ValueError(f"share_index {self.share_index} must be below share_count {self.share_count}")
        return self


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


class AgentConfig(DaemonConfig):
    data: dict[str, DataShare] = Field(default_factory=dict)
    policy: PolicySection = PolicySection()
    disputes: DisputesSection = DisputesSection()

    @model_validator(mode="after")
    def _known_datasets(self) -> AgentConfig:
        unknown = sorted(set(self.data) - set(CATALOG))
        if unknown:
            raise ValueError(f"data: {unknown} not in the catalog (known: {sorted(CATALOG)})")
        return self

    def profile(self) -> ProviderProfile:
        return ProviderProfile(datasets=frozenset(self.data), gpu_memory_mib=self.node.gpu_memory_mib,
                               cpu_cores=self.node.cpu_cores,
                               min_reward_per_round=tokens(self.policy.min_reward_per_round),
                               accepted_tokens=frozenset(self.policy.accepted_tokens),
                               trusted_coordinators=frozenset(self.policy.trusted_coordinators),
                               min_round_timeout=self.policy.min_round_timeout,
                               max_round_timeout=self.policy.max_round_timeout,
                               max_join_wait=self.policy.max_join_wait,
                               max_job_duration=self.policy.max_job_duration)


def load_agent_config(path: Path) -> AgentConfig:
    return load_toml(AgentConfig, path)
