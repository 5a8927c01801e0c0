"""Settings for every OpenDPG component, from ``OPENDPG_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "project_root"]


def project_root() -> Path:
    """The checkout this package runs from (holds ``contracts/`` and ``node_modules/``)."""
    return Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """One settings class for all components. No secret has a default."""

    model_config = SettingsConfigDict(env_prefix="OPENDPG_", env_file=".env", extra="ignore")

    rpc_url: str | None = Field(
        default=None, description="JSON-RPC endpoint of an existing chain; unset: start a local chain"
    )
    ws_url: str | None = Field(default=None, description="websocket endpoint for subscriptions; unset: derived")
    local_chain: Literal["anvil", "ganache"] = Field(default="anvil", description="which local chain to start")
    private_key: SecretStr | None = Field(default=None, description="hex key that signs this component's txs")
    deployment_file: Path = Field(default=Path(".opendpg/deployment.json"))
    state_dir: Path = Field(default=Path(".opendpg"), description="checkpoints, logs, local state")
    confirmations: int = Field(default=0, ge=0, le=128, description="blocks an event must be buried under")
    poll_interval: float = Field(default=0.5, gt=0, le=60, description="seconds between polls without websocket")
    tx_timeout: float = Field(default=120.0, gt=0, description="seconds to wait for a receipt")
