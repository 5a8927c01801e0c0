"""Start and stop a private, offline kubo daemon (repo in a directory of ours, API on a free port)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from opendpg.config import project_root
from opendpg.errors import ContentUnavailableError
from opendpg.process import find_executable, free_port, stop_process_group, wait_ready

__all__ = ["KUBO_VERSION", "KuboDaemon", "kubo_binary"]

#: The kubo release `make` builds (`go build` of github.com/ipfs/kubo/cmd/ipfs at this tag).
KUBO_VERSION = "v0.38.1"


def kubo_binary() -> str:
    found = find_executable(project_root() / ".tools" / "bin" / "ipfs", "ipfs")
    if found is None:
        raise ContentUnavailableError(
            f"no kubo binary in .tools/bin or on PATH: run `make setup` (it builds kubo {KUBO_VERSION} with Go)"
        )
    return found


@dataclass
class KuboDaemon:
    """``ipfs daemon --offline`` on a private repo; stopped by PID."""

    repo: Path
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: the address its API listens on (loopback unless other hosts must reach it)
    host: str = "127.0.0.1"
    #: a command it is started under, e.g. ``["ip", "netns", "exec", "ipfs-host"]``
    wrapper: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _ipfs(self, *args: str) -> str:
        env = {**os.environ, "IPFS_PATH": str(self.repo)}
        result = subprocess.run([kubo_binary(), *args], env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise ContentUnavailableError(f"ipfs {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def init(self) -> None:
        """Create the repo once: the `test` profile (loopback only, no bootstrap, no mDNS)."""
        if not (self.repo / "config").exists():
            self.repo.mkdir(parents=True, exist_ok=True)
            self._ipfs("init", "--profile=test", "--empty-repo")
        self._ipfs("config", "Addresses.API", f"/ip4/{self.host}/tcp/{self.api_port}")
        self._ipfs("config", "Addresses.Gateway", f"/ip4/{self.host}/tcp/0")
        self._ipfs("config", "--json", "Addresses.Swarm", json.dumps([f"/ip4/{self.host}/tcp/0"]))

    def start(self, timeout: float = 60.0) -> KuboDaemon:
        if self.process is not None:
            raise ContentUnavailableError(f"kubo already running (pid {self.pid})")
        self.init()
        env = {**os.environ, "IPFS_PATH": str(self.repo)}
        log = open(self.repo / "daemon.log", "ab")  # noqa: SIM115  (owned by the child)
        self.process = subprocess.Popen([*self.wrapper, kubo_binary(), "daemon", "--offline"], env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = wait_ready(self.process, self._responds, timeout)
        except TimeoutError:
            self.stop()
            raise ContentUnavailableError(f"kubo did not answer on {self.api_url} within {timeout:.0f} s") from None
        if code is not None:
            self.process = None
            tail = (self.repo / "daemon.log").read_text(errors="replace")[-500:]
            raise ContentUnavailableError(f"kubo exited with code {code} while starting: {tail}")
        return self

    def _responds(self) -> bool:
        try:
            return requests.post(f"{self.api_url}/api/v0/id", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.process = self.process, None
        stop_process_group(proc, timeout)

    def __enter__(self) -> KuboDaemon:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
