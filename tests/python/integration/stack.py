"""Helpers for tests that run the real daemons: a fresh deployment per module (so agents see only this
module's jobs), daemon processes launched from TOML configs and stopped by PID, and a TCP proxy that can make
the chain's RPC go away and come back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opendpg.chain import Capabilities, Chain, Deployment, JobParams, TxSender
from opendpg.content import KuboDaemon, KuboStore
from opendpg.data import SampleFiles, write_sample
from opendpg.dpg.datasets import EXAMPLE_HELD_DATASET
from opendpg.dpg.market import post_job
from opendpg.fl.tls import ensure_tls
from opendpg.node.flower import coordinator_metadata
from opendpg.node.launch import launch_daemon, write_config, write_key
from opendpg.process import free_port, stop_process_group
from opendpg.spec import JobSpec

E18 = 10**18


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def log_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


@dataclass
class Stack:
    rpc_url: str
    ws_url: str
    deployment: Deployment
    deployment_file: Path
    kubo: KuboDaemon
    admin: Chain
    root: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    wrappers: dict[str, list[str]] = field(default_factory=dict)  # name -> the host (namespace) it runs on

    def chain_section(self, rpc_url: str | None = None) -> dict[str, Any]:
        rpc = rpc_url or self.rpc_url
        return {"rpc_url": rpc, "ws_url": rpc.replace("http://", "ws://"), "deployment_file": str(self.deployment_file),
                "ipfs_api": self.kubo.api_url, "poll_interval": 0.2}

    def as_(self, account: Any) -> Chain:
        return self.admin.as_account(TxSender(self.admin.w3, account))

    def fund(self, *accounts: Any, amount: int = 1_000 * E18) -> None:
        for acct in accounts:
            self.admin.token.transfer(acct.address, amount)

    def start_coordinator(self, account: Any, name: str = "coordinator", wrapper: list[str] | None = None,
                          flower: dict[str, Any] | None = None, **policy: Any) -> subprocess.Popen[bytes]:
        config = write_config(self.root / f"{name}.toml", {
            "name": name, "state_dir": str(self.root / name),
            "key_file": str(write_key(self.root / "keys" / f"{name}.key", account.key.hex())),
            "chain": self.chain_section(), "node": {"stake": "100"},
            "flower": flower or {"port": free_port()}, "jobs": {"join_grace": 1.0, "hash_wait": 20.0},
            "policy": policy})
        return self._launch(name, "coordinator", config, wrapper)

    def agent_config(self, account: Any, name: str, share: tuple[int, int], rpc_url: str | None = None,
                     held: tuple[int, Path] | None = None, **policy: Any) -> Path:
        """An agent's config: with ``held`` (asset id, folder) it holds that dataset asset in its own files
        (privacy budget 50, DP not required); else it plays slice ``share`` of the bundled digits."""
        data = ({str(held[0]): {"path": str(held[1]), "privacy_budget": 50.0}} if held is not None
                else {"sklearn/digits": {"share_index": share[0], "share_count": share[1]}})
        return write_config(self.root / f"{name}.toml", {
            "name": name, "state_dir": str(self.root / name),
            "key_file": str(write_key(self.root / "keys" / f"{name}.key", account.key.hex())),
            "chain": self.chain_section(rpc_url), "node": {"stake": "100", "cpu_cores": 2},
            "data": data, "policy": {"spec_retry_interval": 1.0, **policy},
            "flower": {"threads": 1}})  # every agent of a test shares this machine

    def start_agent(self, account: Any, name: str, share: tuple[int, int], rpc_url: str | None = None,
                    held: tuple[int, Path] | None = None, wrapper: list[str] | None = None,
                    **policy: Any) -> subprocess.Popen[bytes]:
        return self._launch(name, "agent", self.agent_config(account, name, share, rpc_url, held, **policy), wrapper)

    def held_dataset(self, owner: Any, holders: int) -> tuple[int, SampleFiles]:
        """A breast-cancer dataset asset (its metadata carries the schema) registered by ``owner``, and each
        holder's own files (CSV, Parquet, JSON Lines in turn) with the poster's held-out set."""
        store = KuboStore(self.kubo.api_url)
        asset = self.as_(owner).dpg.register_asset(0, store.put(EXAMPLE_HELD_DATASET.read_bytes()), "CC-BY-4.0")
        files = write_sample("breast-cancer", self.root / f"data-{asset}", holders,
                             formats=["csv", "parquet", "jsonl"])
        return asset, files

    def start_daemons(self, coordinator: Any, providers: list[Any], *also_fund: Any,
                      held: tuple[int, SampleFiles] | None = None) -> None:
        """Fund everyone; start the coordinator and one agent per provider (``agent-I`` holding share I of
        len(providers) of the digits, or with ``held`` holder I's files of that dataset asset); wait until all
        registered (and declared their holdings)."""
        self.fund(coordinator, *providers, *also_fund)
        self.start_coordinator(coordinator)
        for i, p in enumerate(providers):
            self.start_agent(p, f"agent-{i}", (i, len(providers)),
                             held=(held[0], held[1].holders[i]) if held is not None else None)
        self.wait_registered(coordinator, *providers)
        if held is not None:
            ledger = self.admin.ledger
            wait_for(lambda: all(ledger.holding_of(p.address, held[0]).held for p in providers), 120,
                     "the agents to declare their data")

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        kind = "coordinator" if name.startswith("coordinator") else "agent"
        return self._launch(name, kind, self.root / f"{name}.toml", self.wrappers.get(name))

    def _launch(self, name: str, kind: str, config: Path, wrapper: list[str] | None = None) -> subprocess.Popen[bytes]:
        proc = launch_daemon(kind, config, self.root / f"{name}.out", wrapper=wrapper)  # type: ignore[arg-type]
        self.procs[name] = proc
        if wrapper:
            self.wrappers[name] = wrapper
        return proc

    def log(self, name: str) -> list[dict[str, Any]]:
        return log_lines(self.root / name / f"{name}.log")

    def kill9(self, name: str, with_supernodes: bool) -> None:
        """``kill -9`` a daemon (and, for a whole machine going down, the SuperNodes it started)."""
        proc = self.procs.pop(name)
        if with_supernodes:
            jobs = json.loads((self.root / name / "jobs.json").read_text())
            for job in jobs.values():
                if job.get("supernode_pid"):
                    with suppress(ProcessLookupError):
                        os.killpg(job["supernode_pid"], signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def register_coordinator(self, account: Any) -> None:
        """Register ``account`` as a coordinator with what agents check before joining its jobs (a Flower endpoint
        and the CA certificate of its SuperLink), without running one: for tests of joining only."""
        tls = ensure_tls(self.root / "tls" / account.address, ["127.0.0.1"])
        metadata = coordinator_metadata(f"127.0.0.1:{free_port()}", tls.ca_pem())
        cid = KuboStore(self.kubo.api_url).put(json.dumps(metadata).encode())
        self.as_(account).registry.register(Capabilities("CPU", 0, 2, 4096, "local", [], cid), 100 * E18)

    def wait_registered(self, *accounts: Any, timeout: float = 120.0) -> None:
        def up() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited ({proc.returncode}): "
                                         f"{(self.root / f'{name}.out').read_text()[-2000:]}")
            return all(self.admin.registry.is_registered(a.address) for a in accounts)

        wait_for(up, timeout, "the daemons to register")

    def post(self, poster: Any, spec_cid: str, coordinator: Any, *, rounds: int, min_p: int, max_p: int,
             round_timeout: int = 600, reward: int = 10 * E18, stake: int = 10 * E18,
             spec: JobSpec | None = None) -> int:
        """Post a job; with its ``spec``, as the spec asks (a job on held data goes with its data terms)."""
        now = int(self.admin.w3.eth.get_block("latest")["timestamp"])
        params = JobParams(spec_cid, self.admin.token.address, reward * rounds * max_p, reward, rounds, min_p, max_p,
                           stake, now + 3600, round_timeout, coordinator.address)
        if spec is not None:
            return post_job(self.as_(poster), params, spec)
        return self.as_(poster).market.post_job(params)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            stop_process_group(proc, timeout=20)
        self.procs.clear()


class Proxy:
    """A TCP forwarder to ``target`` that can go down (refusing and cutting every connection) and come back
    on the same port: the chain's RPC as the agents see it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            conns, self._conns = self._conns, []
        if server is not None:
            with suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(), releasing the port
            server.close()
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
