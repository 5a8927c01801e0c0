"""Start the daemons as child processes (for ``opendpg demo``, tests and benchmarks): write a TOML config,
run ``opendpg agent|coordinator run --config FILE`` (or ``opendpg gateway run``) in its own session, stop it by
PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import httpx
import tomli_w

from opendpg.errors import OpenDPGError

__all__ = ["launch_daemon", "launch_gateway", "wait_healthy", "write_config", "write_key"]


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
                  env: dict[str, str] | None = None, wrapper: list[str] | None = None) -> subprocess.Popen[bytes]:
    """``opendpg KIND run --config CONFIG`` in its own session, output to ``log``; under ``wrapper`` (a command
    prefix, e.g. ``ip netns exec HOST``) if given."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115  (owned by the child)
    return subprocess.Popen([*(wrapper or []), sys.executable, "-m", "opendpg.cli.main", kind, "run", "--config",
                             str(config)],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def launch_gateway(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``opendpg gateway run --port PORT`` with ``env`` (``OPENDPG_*`` settings) over this process's environment."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115  (owned by the child)
    return subprocess.Popen([sys.executable, "-m", "opendpg.cli.main", "gateway", "run", "--port", str(port)],
                            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Wait until ``url/health`` answers 200; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise OpenDPGError(f"the gateway at {url} did not come up (see {log}):\n{tail}")
        time.sleep(0.2)
