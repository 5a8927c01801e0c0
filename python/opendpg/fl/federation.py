"""Run Flower's Deployment Engine: one SuperLink, SuperNodes, and ``flwr run`` of the OpenDPG app.

Every process gets a private ``FLWR_HOME``, telemetry and update checks off, runtime dependency
installation disabled, its own session (so stopping kills its children, e.g. ``flower-superexec``), and
is stopped by PID. Links are TLS: the SuperLink serves a certificate (its own CA's, made in its home, unless
given), SuperNodes trust exactly the CA they are given, and with ``node_auth`` the SuperLink admits only the
node keys registered through :meth:`Federation.control`. Plaintext (``insecure``) is for development only.
The SuperLink is :mod:`opendpg.fl.superlink` (the Fleet API alone on ``host:port``, every API on loopback) and a
SuperNode is :mod:`opendpg.fl.supernode` (a warm ClientApp worker) unless ``stock`` asks for Flower's own
processes as they come (a ClientApp process per message, a 3 s idle poll), kept for comparison.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opendpg.errors import OpenDPGError
from opendpg.files import write_atomic
from opendpg.fl.control import SuperLinkControl
from opendpg.fl.tls import TlsFiles, ensure_tls
from opendpg.process import find_executable, free_port, stop_process_group, wait_ready

__all__ = ["APP_DIR", "Federation", "FederationError", "SuperNodeLink", "Worker", "flower_env", "start_supernode"]

#: where a SuperNode's warm ClientApp runs: a thread of the SuperNode's own process, or a worker process of its own
Worker = Literal["thread", "process"]

APP_DIR = Path(__file__).resolve().parent / "flower_app"
CONNECTION = "opendpg"


class FederationError(OpenDPGError):
    """A Flower process failed to start, or a run failed."""


def _tool(name: str) -> str:
    found = find_executable(Path(sys.executable).parent / name, name)
    if found is None:
        raise FederationError(f"{name} not found: install flwr (make setup)")
    return found


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def flower_env(home: Path) -> dict[str, str]:
    """The environment of every Flower process: a private ``FLWR_HOME``, no telemetry or update checks."""
    # the SuperLink and SuperNodes start `flower-superexec` / `flwr-*app` by name: our venv's first
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "FLWR_HOME": str(home), "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1"}


def _spawn(home: Path, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / f"{name}.log", "ab")  # noqa: SIM115  (owned by the child)
    env = {**flower_env(home), **(extra_env or {})}
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@dataclass(frozen=True)
class SuperNodeLink:
    """How a SuperNode reaches its SuperLink: the CA certificate it trusts (``None``: plaintext, development
    only) and the private key it authenticates with (OpenSSH, P-256; ``None``: no node authentication)."""

    root_ca: Path | None
    node_key: Path | None = None

    def args(self) -> list[str]:
        if self.root_ca is None:
            if self.node_key is not None:
                raise FederationError("node authentication needs TLS: give the SuperLink's CA certificate")
            return ["--insecure"]
        args = ["--root-certificates", str(self.root_ca)]
        return args + (["--auth-supernode-private-key", str(self.node_key)] if self.node_key else [])


def start_supernode(home: Path, superlink: str, name: str, node_config: dict[str, Any], link: SuperNodeLink, *,
                    stock: bool = False, poll: tuple[float, float] = (0.05, 1.0),
                    threads: int = 0, worker: Worker = "thread", spec: bytes | None = None) -> subprocess.Popen[bytes]:
    """A SuperNode (in its own session, logging to ``home/supernode-NAME.log``) that pulls from ``superlink``
    (``host:port`` of its Fleet API) over ``link`` and runs the ClientApp with ``node_config``, loaded once: in a
    thread of its own process (``worker="thread"``), or in one warm worker process it restarts if it dies
    (``"process"``, its log ``home/supernode-NAME/worker.log``); ``poll``: its pull loop's pause after a message
    and its longest pause when idle (seconds). ``stock``: Flower's own SuperNode (a ClientApp process per
    message). ``threads``: the CPU threads the ClientApp gives torch (``OMP_NUM_THREADS``; 0: torch's default).
    ``spec``: the job's spec (``JobSpec.to_bytes``): the warm ClientApp loads its model and this node's records
    before the SuperNode connects, so the first round does not wait for them."""
    config = " ".join(f"{k}={_toml(v)}" for k, v in node_config.items())
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {}
    flower = [*link.args(), "--superlink", superlink, "--node-config", config]
    if stock:
        return _spawn(home, f"supernode-{name}", [_tool("flower-supernode"), *flower, "--port", str(free_port())],
                      env)
    node_home = home / f"supernode-{name}"
    ours = ["--in-process" if worker == "thread" else "--warm", "--runtime-port", str(free_port()),
            "--home", str(node_home), "--poll-min", str(poll[0]), "--poll-max", str(poll[1])]
    if spec is not None:
        write_atomic(node_home / "job-spec.json", spec)
        ours += ["--job-spec", str(node_home / "job-spec.json")]
    return _spawn(home, f"supernode-{name}", [sys.executable, "-m", "opendpg.fl.supernode", *ours, "--", *flower],
                  env)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Federation:
    """A SuperLink (:mod:`opendpg.fl.superlink`: the Fleet API on ``host:port`` for SuperNodes, every API on
    ``127.0.0.1:control_port`` for ``flwr`` and the ServerApp) and the SuperNodes started through it."""

    home: Path
    port: int = field(default_factory=free_port)
    control_port: int = field(default_factory=free_port)
    superlink: subprocess.Popen[bytes] | None = None
    supernodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: extra environment for the SuperLink (and so the ServerApp), e.g. the coordinator's key
    superlink_env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    #: the SuperLink's certificate; None: its own CA's, for ``host``, 127.0.0.1 and localhost, in ``home/tls``
    tls: TlsFiles | None = None
    #: admit only SuperNodes whose keys are registered (:meth:`control`)
    node_auth: bool = False
    #: plaintext links (development only)
    insecure: bool = False
    #: CPU threads each SuperNode's ClientApp gives torch (0: torch's default; 1 where many share a host)
    threads: int = 0
    #: Flower's own processes as they come, for comparison: ``flower-superlink`` (every API on ``port``, no held
    #: pulls), ``flower-supernode`` (a ClientApp process per message, a 3 s idle poll), the ServerApp polling 0.5 s
    stock: bool = False
    #: where each SuperNode runs its warm ClientApp (see :func:`start_supernode`)
    worker: Worker = "thread"
    #: seconds a SuperNode's empty pull, and the ServerApp's, is held until the other side has pushed
    holds: tuple[float, float] = (10.0, 1.0)
    #: where the SuperLink writes its request counts by path when it stops (not for stock)
    stats_file: Path | None = None

    def __post_init__(self) -> None:
        if self.insecure and (self.tls is not None or self.node_auth):
            raise FederationError("an insecure federation has no TLS and no node authentication")
        if not self.insecure and self.tls is None:
            self.tls = ensure_tls(self.home / "tls", list(dict.fromkeys([self.host, "127.0.0.1", "localhost"])))

    @property
    def root_ca(self) -> Path | None:
        """The CA certificate SuperNodes and ``flwr`` trust (None when insecure)."""
        return None if self.tls is None else self.tls.ca_cert

    @property
    def address(self) -> str:
        """The SuperLink's Fleet address (``host:port``) for SuperNodes."""
        return f"{self.host}:{self.port}"

    @property
    def control_address(self) -> str:
        """Where ``flwr`` and the ServerApp reach the SuperLink (loopback only; a stock SuperLink serves every
        API on its one port)."""
        if self.stock:
            return f"{'127.0.0.1' if self.host in ('0.0.0.0', '::') else self.host}:{self.port}"
        return f"127.0.0.1:{self.control_port}"

    def start_superlink(self, timeout: float = 60.0) -> None:
        security = ["--insecure"] if self.tls is None else [
            "--ssl-ca-certfile", str(self.tls.ca_cert), "--ssl-certfile", str(self.tls.cert),
            "--ssl-keyfile", str(self.tls.key)]
        if self.node_auth:
            security.append("--enable-supernode-auth")
        flower = [*security, "--disable-runtime-dependency-installation"]  # in-memory state: SQLite locks under load
        if self.stock:  # Flower's own: every API on one port
            command = [_tool("flower-superlink"), *flower, "--host", self.host, "--port", str(self.port)]
        else:
            command = [sys.executable, "-m", "opendpg.fl.superlink", "--fleet-host", self.host,
                       "--fleet-port", str(self.port), "--fleet-hold", str(self.holds[0]),
                       "--runtime-hold", str(self.holds[1]),
                       *(["--stats-file", str(self.stats_file)] if self.stats_file else []), "--", *flower,
                       "--host", "127.0.0.1", "--port", str(self.control_port)]
        self.superlink = _spawn(self.home, "superlink", command, self.superlink_env)
        try:
            code = wait_ready(self.superlink, self._listening, timeout)
        except TimeoutError:
            raise FederationError(f"the SuperLink did not listen on {self.address} and {self.control_address} "
                                  f"within {timeout:.0f} s") from None
        if code is not None:
            raise FederationError(f"the SuperLink exited ({code}); see {self.home}")
        trust = "insecure = true" if self.tls is None else f"root-certificates = {_toml(str(self.tls.ca_cert))}"
        (self.home / "config.toml").write_text(
            f'[superlink.{CONNECTION}]\naddress = "{self.control_address}"\n{trust}\n')

    def control(self) -> SuperLinkControl:
        """A Control API client (loopback): register and remove SuperNode keys."""
        return SuperLinkControl(self.control_address, self.root_ca)

    def _listening(self) -> bool:
        control = self.control_address.rpartition(":")
        return _accepts(self.host, self.port) and _accepts(control[0], int(control[2]))

    def start_supernode(self, name: str, node_config: dict[str, Any], node_key: Path | None = None,
                        spec: bytes | None = None) -> subprocess.Popen[bytes]:
        proc = start_supernode(self.home, self.address, name, node_config, SuperNodeLink(self.root_ca, node_key),
                               stock=self.stock, threads=self.threads, worker=self.worker, spec=spec)
        self.supernodes[name] = proc
        return proc

    def stop_supernode(self, name: str) -> None:
        proc = self.supernodes.pop(name, None)
        if proc is not None:
            stop_process_group(proc)

    def run(self, run_config: dict[str, Any], timeout: float = 1800.0, app_dir: Path = APP_DIR,
            name: str = "run") -> subprocess.CompletedProcess[str]:
        """``flwr run APP opendpg --stream`` with ``run_config`` overrides; raises if the run fails.
        Several runs may go at once under different ``name``s (each has its own config and log file)."""
        if self.stock:  # the ServerApp polls as it did before held pulls
            run_config = {"poll-interval": 0.5, **run_config}
        overrides = self.home / f"{name}-config.toml"  # a file: values such as the spec JSON need quoting
        overrides.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in run_config.items()))
        log = self.home / f"{name}.log"  # streamed as it runs: the ServerApp's own log lines land here
        with open(log, "w") as out:
            proc = subprocess.Popen([_tool("flwr"), "run", str(app_dir), CONNECTION, "--stream", "--run-config",
                                     str(overrides)], env=flower_env(self.home), stdout=out, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                stop_process_group(proc)  # type: ignore[arg-type]
                raise FederationError(f"flwr run took over {timeout:.0f} s; log: {log}") from None
        output = log.read_text()
        if code != 0 or "ERROR" in output:
            raise FederationError(f"flwr run failed (exit {code}); log: {log}")
        return subprocess.CompletedProcess(proc.args, code, output, "")

    def stop(self) -> None:
        for name in list(self.supernodes):
            self.stop_supernode(name)
        if self.superlink is not None:
            stop_process_group(self.superlink)
            self.superlink = None

    def __enter__(self) -> Federation:
        if self.superlink is None:
            self.start_superlink()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
