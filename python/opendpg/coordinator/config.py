"""The coordinator's config file (TOML), e.g.::

    name = "coordinator"
    state_dir = "state/coordinator"
    key_file = "coordinator.key"         # or OPENDPG_PRIVATE_KEY

    [chain]
    rpc_url = "http://127.0.0.1:8545"
    ws_url = "ws://127.0.0.1:8545"
    deployment_file = "deployment.json"
    ipfs_api = "http://127.0.0.1:5001"

    [node]
    stake = "200"

    [flower]                             # the SuperLink providers' SuperNodes connect to
    host = "127.0.0.1"
    port = 9092
    advertise = "127.0.0.1:9092"         # published in the node metadata on IPFS (default host:port)

    [jobs]
    join_grace = 5.0                     # seconds to wait for more providers once min have joined

    [policy]                             # which jobs naming this node it accepts (starting one locks its stake)
    max_required_stake = "100"           # whole tokens; unset: any up to the free stake
    min_round_timeout = 60               # seconds: time enough to aggregate and commit
    trusted_posters = []                 # empty: any poster
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import Field

from opendpg.chain import Job
from opendpg.node.config import DaemonConfig, StrictSection, load_toml, tokens

__all__ = ["CoordinatorConfig", "CoordinatorPolicy", "FlowerSection", "JobsSection", "load_coordinator_config"]


class FlowerSection(StrictSection):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 9092
    advertise: str | None = Field(default=None, description="host:port providers dial; default host:port")


class JobsSection(StrictSection):
    join_grace: Annotated[float, Field(ge=0, le=86400)] = 5.0
    hash_wait: Annotated[float, Field(gt=0, le=3600)] = 60.0
    min_nodes_wait: Annotated[float, Field(gt=0, le=3600)] = 120.0
    run_retries: Annotated[int, Field(ge=0, le=100)] = 3


class CoordinatorPolicy(StrictSection):
    """Which jobs this coordinator accepts. A job binds the coordinator only when it starts it (its stake is
    locked then), so a job outside these limits is left unstarted: its poster, or anyone after the start
    deadline, can cancel it."""

    max_required_stake: Annotated[Decimal, Field(ge=0)] | None = Field(
        default=None, description="whole tokens a job may lock of this node's stake; unset: any")
    min_round_timeout: Annotated[int, Field(ge=1)] = Field(
        default=60, description="seconds: a shorter round leaves too little time to aggregate and commit")
    trusted_posters: list[str] = Field(default_factory=list, description="poster addresses; empty: any")

    def refusals(self, job: Job) -> list[str]:
        """Why this coordinator does not accept ``job`` (empty: it does)."""
        reasons = []
        if self.max_required_stake is not None and job.required_stake > tokens(self.max_required_stake):
            reasons.append(f"the job locks {job.required_stake} of stake, above this node's maximum "
                           f"{tokens(self.max_required_stake)}")
        if job.round_timeout < self.min_round_timeout:
            reasons.append(f"round timeout {job.round_timeout} s is below this node's minimum "
                           f"{self.min_round_timeout} s")
        if self.trusted_posters and job.poster.lower() not in {p.lower() for p in self.trusted_posters}:
            reasons.append(f"poster {job.poster} is not one this node works for")
        return reasons


class CoordinatorConfig(DaemonConfig):
    flower: FlowerSection = FlowerSection()
    jobs: JobsSection = JobsSection()
    policy: CoordinatorPolicy = CoordinatorPolicy()


def load_coordinator_config(path: Path) -> CoordinatorConfig:
    return load_toml(CoordinatorConfig, path)
