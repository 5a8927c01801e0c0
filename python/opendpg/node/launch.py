"""Start the daemons as child processes (for ``opendpg demo``, tests and benchmarks): write a TOML config,
run ``opendpg agent|coordinator run --config FILE`` in its own session, stop it by PID."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import tomli_w

__all__ = ["launch_daemon", "write_config", "write_key"]


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in config.items()}))
    return path


def write_key(path: Path, key_hex: str) -> Path:
    """A key file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(key_hex)
    return path


def launch_daemon(kind: Literal["agent", "coordinator"], config: Path, log: Path,
                  env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115  (owned by the child)
    return subprocess.Popen([sys.executable, "-m", "opendpg.cli.main", kind, "run", "--config", str(config)],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
