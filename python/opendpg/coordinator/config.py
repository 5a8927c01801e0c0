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
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from opendpg.node.config import DaemonConfig, StrictSection, load_toml

__all__ = ["CoordinatorConfig", "FlowerSection", "JobsSection", "load_coordinator_config"]


class FlowerSection(StrictSection):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 9092
    advertise: str | None = Field(default=None, description="host:port providers dial; default host:port")


class JobsSection(StrictSection):
    join_grace: Annotated[float, Field(ge=0, le=86400)] = 5.0
    hash_wait: Annotated[float, Field(gt=0, le=3600)] = 60.0
    min_nodes_wait: Annotated[float, Field(gt=0, le=3600)] = 120.0
    run_retries: Annotated[int, Field(ge=0, le=100)] = 3


class CoordinatorConfig(DaemonConfig):
    flower: FlowerSection = FlowerSection()
    jobs: JobsSection = JobsSection()


def load_coordinator_config(path: Path) -> CoordinatorConfig:
    return load_toml(CoordinatorConfig, path)
