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
    host = "0.0.0.0"                     # the Fleet API listener (the only one other hosts reach)
    port = 9092
    advertise = "10.0.0.2:9092"          # published in the node metadata on IPFS (default host:port)
    control_port = 9093                  # every API (Control, Runtime) on 127.0.0.1 only; 0: any free port
    names = []                           # more DNS names / IPs for the TLS certificate (advertise's host is in)
    # tls_ca = "ca.pem"                  # your own certificates; unset: a CA of this node's own, in state_dir
    # tls_cert = "superlink.pem"
    # tls_key = "superlink.key"
    insecure = false                     # plaintext and no node authentication: development only

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

from pydantic import Field, model_validator

from opendpg.chain import Job
from opendpg.node.config import DaemonConfig, StrictSection, load_toml, tokens

__all__ = ["CoordinatorConfig", "CoordinatorPolicy", "FlowerSection", "JobsSection", "load_coordinator_config"]


class FlowerSection(StrictSection):
    host: str = Field(default="127.0.0.1", description="address of the Fleet API listener providers reach")
    port: Annotated[int, Field(ge=1, le=65535)] = 9092
    advertise: str | None = Field(default=None, description="host:port providers dial; default host:port")
    control_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=0, description="loopback port of every SuperLink API (flwr, the ServerApp); 0: a free one")
    names: list[str] = Field(default_factory=list, description="more names/IPs for the TLS certificate")
    tls_ca: Path | None = Field(default=None, description="CA certificate providers must trust (PEM)")
    tls_cert: Path | None = Field(default=None, description="the SuperLink's certificate, issued by tls_ca")
    tls_key: Path | None = Field(default=None, description="the SuperLink's private key")
    insecure: bool = Field(default=False, description="plaintext, no node authentication: development only")
    stock: bool = Field(default=False, description="Flower's own polling (no held pulls), for comparison")

    @model_validator(mode="after")
    def _tls_consistent(self) -> FlowerSection:
        given = [f for f in (self.tls_ca, self.tls_cert, self.tls_key) if f is not None]
        if given and len(given) != 3:
            raise ValueError("give all of tls_ca, tls_cert and tls_key, or none (a CA of this node's own)")
        if given and self.insecure:
            raise ValueError("insecure = true serves plaintext: drop tls_ca, tls_cert and tls_key, or insecure")
        return self

    @property
    def fleet_address(self) -> str:
        return self.advertise or f"{self.host}:{self.port}"

    def certificate_names(self) -> list[str]:
        """What the SuperLink's certificate must name: the advertised host, the listener's, loopback, ``names``."""
        hosts = [self.fleet_address.rpartition(":")[0].strip("[]"), self.host, "127.0.0.1", "localhost", *self.names]
        return list(dict.fromkeys(h for h in hosts if h and h not in ("0.0.0.0", "::")))


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
    """The coordinator's config; relative TLS file paths are taken relative to the config file's folder."""
    config = load_toml(CoordinatorConfig, path)
    base = path.resolve().parent
    files = {k: base / v for k in ("tls_ca", "tls_cert", "tls_key")
             if (v := getattr(config.flower, k)) is not None and not v.is_absolute()}
    return config.model_copy(update={"flower": config.flower.model_copy(update=files)}) if files else config
