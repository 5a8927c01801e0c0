"""Local child processes (chains, kubo, Flower): free ports, and stopping a process group by PID.

Infrastructure shared by ``chain``, ``content`` and ``fl``, which know nothing of each other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["find_executable", "free_port", "port_is_free", "stop_process_group", "stop_stale_group",
           "wait_ready"]


def find_executable(local: Path, name: str) -> str | None:
    """``local`` if it exists (the project's own copy), else ``name`` on PATH, else None."""
    if local.exists():
        return str(local)
    return shutil.which(name)


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float,
               interval: float = 0.1) -> int | None:
    """Poll until ``ready()`` (returns None) or ``proc`` exits (returns its exit code); raise TimeoutError
    after ``timeout`` seconds. The caller decides what to stop and which error to raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc.returncode
        if ready():
            return None
        time.sleep(interval)
    raise TimeoutError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (connections lingering in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def stop_process_group(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session=True``), SIGKILL after
    ``timeout`` seconds; children such as ``flower-superexec`` or node's workers go with it."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def stop_stale_group(pid: int, program: str, timeout: float = 10.0) -> bool:
    """SIGKILL the process group of ``pid`` left by an earlier run (its own session outlived its parent), if
    ``pid`` is still ``program`` (not a recycled PID); wait up to ``timeout`` s for it to go. True if stopped."""
    try:
        alive = program.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if not alive:
        return False
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return True
