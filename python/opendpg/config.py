"""Settings for every OpenDPG component, from ``OPENDPG_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opendpg.errors import ConfigError

__all__ = ["Settings", "load_settings", "project_root"]


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
    ipfs_api: str | None = Field(default=None, description="kubo RPC address (http://host:port); unset: embedded")
    private_key: SecretStr | None = Field(default=None, description="hex key that signs this component's txs")
    deployment_file: Path = Field(default=Path(".opendpg/deployment.json"))
    state_dir: Path = Field(default=Path(".opendpg"), description="checkpoints, logs, local state")
    confirmations: int = Field(default=0, ge=0, le=128, description="blocks an event must be buried under")
    poll_interval: float = Field(default=0.5, gt=0, le=60, description="seconds between polls without websocket")
    tx_timeout: float = Field(default=120.0, gt=0, description="seconds to wait for a receipt")
    environment: Literal["development", "production"] = Field(
        default="development", description="production refuses development-only conveniences (faucet, no secret)")
    gateway_db_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the gateway database; unset: SQLite in state_dir")
    gateway_url: str | None = Field(default=None, description="the gateway the CLI talks to (http://host:port)")
    api_key: SecretStr | None = Field(default=None, description="the CLI's gateway API key (odpg_...)")
    gateway_rate_limit: int = Field(default=600, ge=1, le=1_000_000, description="gateway requests per minute per key")
    gateway_frontend_dir: Path | None = Field(
        default=None, description="the built web app the gateway serves at /app (default: frontend/dist when built)")
    gateway_public_rpc_url: str | None = Field(
        default=None, description="a JSON-RPC URL the web app may read the chain from without a wallet")
    gateway_batch_max: int = Field(default=64, ge=1, le=128, description="most jobs the gateway posts in one tx")
    gateway_reconcile_interval: float = Field(
        default=10.0, gt=0, le=3600, description="seconds between the indexer's checks of jobs against the chain")
    gateway_secret: SecretStr | None = Field(
        default=None, description="key that encrypts account keys at rest (Fernet); required in production")

    @field_validator("rpc_url", "ws_url", "ipfs_api", "private_key", "gateway_db_url", "gateway_secret",
                     "gateway_url", "api_key",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("private_key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", value.get_secret_value()):
            raise ValueError("must be 64 hex digits (32 bytes), optionally prefixed with 0x")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with errors that name the variable at fault."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"OPENDPG_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
