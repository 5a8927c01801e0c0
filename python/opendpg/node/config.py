"""Config-file sections shared by the daemons. Files are TOML; keys are never read from them: a daemon's
private key comes from ``key_file`` (a file holding the hex key) or ``OPENDPG_PRIVATE_KEY``."""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from opendpg.config import load_settings
from opendpg.errors import ConfigError
from opendpg.node.hardware import detect_gpu

__all__ = ["ChainSection", "DaemonConfig", "NodeSection", "StrictSection", "load_toml", "tokens"]

E18 = 10**18
T = TypeVar("T", bound=BaseModel)


def tokens(amount: Decimal) -> int:
    """Whole tokens (18 decimals) to base units."""
    return int(amount * E18)


class StrictSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainSection(StrictSection):
    rpc_url: str = Field(description="JSON-RPC endpoint (http://...)")
    ws_url: str | None = Field(default=None, description="websocket endpoint for new heads; unset: HTTP polling")
    deployment_file: Path = Field(description="opendpg-deployment/1 file written by `opendpg deploy`")
    ipfs_api: str | None = Field(default=None, description="kubo RPC address; unset: embedded store in state_dir")
    poll_interval: Annotated[float, Field(gt=0, le=60)] = 0.5


class NodeSection(StrictSection):
    """What is registered in the NodeRegistry, and the stake to keep there."""

    gpu_model: str | None = Field(default=None, description="the GPU's name as registered; unset: as the machine's "
                                                            "driver reports it (CPU without a GPU)")
    gpu_memory_mib: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="GPU memory offered to jobs; unset: all the machine's GPU has (never more)")
    cpu_cores: Annotated[int, Field(ge=1, le=65535)] = Field(default_factory=lambda: os.cpu_count() or 1)
    ram_mib: Annotated[int, Field(ge=0)] = 4096
    region: str = "local"
    stake: Annotated[Decimal, Field(ge=0, description="tokens to keep staked (whole tokens)")] = Decimal(200)


    def gpu(self) -> tuple[str, int]:
        """The GPU model and memory (MiB) this node registers and takes jobs by: what the machine's driver reports
        (``CPU`` and 0 without a GPU), or less memory when the config offers only part of it. A config claiming a
        GPU the machine lacks, or more memory than it has, is a :class:`ConfigError`."""
        found = detect_gpu()
        model, memory = (found.model, found.memory_mib) if found is not None else ("CPU", 0)
        if found is None and self.gpu_model not in (None, "CPU"):
            raise ConfigError(f"node.gpu_model: {self.gpu_model!r}, but this machine reports no GPU (nvidia-smi): "
                              "leave it unset")
        if self.gpu_memory_mib is not None:
            if self.gpu_memory_mib > memory:
                raise ConfigError(f"node.gpu_memory_mib: {self.gpu_memory_mib} MiB, but this machine's GPU ({model}) "
                                  f"has {memory} MiB: offer at most that, or leave it unset")
            memory = self.gpu_memory_mib
        return (self.gpu_model if found is not None and self.gpu_model else model), memory


class DaemonConfig(StrictSection):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    state_dir: Path
    key_file: Path | None = Field(default=None, description="file holding this node's hex private key")
    chain: ChainSection
    node: NodeSection = NodeSection()

    @field_validator("key_file")
    @classmethod
    def _key_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} does not exist: write the node's hex key there, or unset key_file and "
                             "set OPENDPG_PRIVATE_KEY")
        return value

    def private_key(self) -> str:
        if self.key_file is not None:
            key = self.key_file.read_text().strip()
            if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", key):
                raise ConfigError(f"key_file: {self.key_file} must hold 64 hex digits (32 bytes)")
            return key
        secret = load_settings().private_key
        if secret is None:
            raise ConfigError("no private key: set key_file in the config or OPENDPG_PRIVATE_KEY")
        return secret.get_secret_value()


def load_toml(model: type[T], path: Path, **overrides: Any) -> T:
    """Validate a TOML config file against ``model``; errors name the file, the key and the problem.
    Relative paths in the file are taken relative to the file's folder."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    raw.update(overrides)
    base = path.resolve().parent
    for key in ("state_dir", "key_file"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = str(base / raw[key])
    chain = raw.get("chain")
    if isinstance(chain, dict) and isinstance(chain.get("deployment_file"), str) \
            and not Path(chain["deployment_file"]).is_absolute():
        chain["deployment_file"] = str(base / chain["deployment_file"])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
                             for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
