"""``python -m opendpg.fl.supernode [OURS] -- [flower-supernode arguments]``: Flower's SuperNode with a warm
ClientApp and a paced pull loop.

- ``--in-process``: the SuperNode runs with ``--isolation process`` and runs its tasks itself, in a thread
  (:class:`InProcessWorker`) that calls the Runtime API's handlers on the SuperNode's state directly
  (:class:`opendpg.fl.worker.LocalRuntime`): no HTTP between the SuperNode and its ClientApp, no second process.
  The ClientApp and torch are loaded, and a training step taken, before the SuperNode connects.
- ``--warm``: the SuperNode runs with ``--isolation process`` and this process starts, supervises and restarts
  one :mod:`opendpg.fl.worker` for it, handing it a random SuperExec secret (so no other local process can take
  its tasks) and a pipe: each time the SuperNode stores a message, one byte wakes the worker at once. The
  SuperNode connects to its SuperLink once the worker is ready (torch imported and warmed up), so a round is not
  sent to a node that would make it wait for start-up.
- ``--poll-min`` / ``--poll-max``: Flower's pull loop sleeps a fixed 3 s when the SuperLink has nothing for the
  node, and 0.5 s while waiting for a reply. Here it pulls again after ``poll-min`` when the SuperLink held the
  empty pull (:mod:`opendpg.fl.superlink` does), backing off up to ``poll-max`` when it did not; it waits for
  replies ``poll-min`` at a time.
- a restart after a crash: Flower refuses to activate a node that is still online, which a SuperNode killed
  without deactivating stays until its heartbeat lapses (a minute). Each SuperNode notes its node ID in
  ``--home``; the next one started there deactivates that node first (signed with the same node key).
- Flower's runtime tracing middleware, which does nothing while tracing is off (``FLWR_TRACING_ENABLED``), is left
  out of the SuperNode's Runtime API then: each of the worker's calls passes through one middleware fewer.

All act on ``flwr.supernode.start_client_internal`` (its ``time``, ``_pull_and_store_message`` and
``_init_connection``); flwr is pinned and :func:`check_flower` refuses a Flower whose loop no longer looks as
expected.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import flwr.supernode.start_client_internal as loop

from opendpg.fl.superlink import PassThrough, tracing_enabled
from opendpg.fl.worker import fail_abandoned_task

__all__ = ["IDLE_SLEEP", "Pacer", "WorkerSupervisor", "check_flower", "deactivate_previous", "main"]

log = logging.getLogger("opendpg.fl.supernode")
IDLE_SLEEP = 3  # the seconds flwr's pull loop sleeps after an empty pull
WORKER_READY_TIMEOUT = 300.0  # seconds the SuperNode waits for its worker before connecting anyway


class Pacer:
    """Stands in for the ``time`` module inside Flower's pull loop: ``sleep`` is paced, the rest is ``time``'s.

    After an empty pull it sleeps ``fastest`` if the SuperLink held the pull (an OpenDPG SuperLink answers an
    empty pull only when work comes or after its hold), else it backs off, doubling up to ``slowest``."""

    HELD = 0.5  # an empty pull that took this long (seconds) was held by the SuperLink

    def __init__(self, fastest: float, slowest: float) -> None:
        if not 0 < fastest <= slowest:
            raise ValueError(f"poll intervals must satisfy 0 < min <= max, got {fastest} and {slowest}")
        self.fastest, self.slowest = fastest, slowest
        self.delay = fastest
        self.last_pull = 0.0

    def pulled(self, seconds: float, got_message: bool) -> None:
        self.last_pull = seconds
        if got_message or seconds >= self.HELD:
            self.delay = self.fastest

    def sleep(self, seconds: float) -> None:
        if seconds >= IDLE_SLEEP:  # nothing came
            time.sleep(self.delay)
            if self.last_pull < self.HELD:  # not held: back off
                self.delay = min(self.delay * 2, self.slowest)
        else:  # waiting for a reply or an object in the node's own store
            time.sleep(min(seconds, self.fastest))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def check_flower(module: ModuleType = loop) -> None:
    """Refuse to patch a Flower whose pull loop is not the one this module was written against."""
    if getattr(module, "time", None) is not time or not all(
            callable(getattr(module, name, None)) for name in ("_pull_and_store_message", "_init_connection")):
        raise RuntimeError("flwr.supernode.start_client_internal changed (no `time`, `_pull_and_store_message` or "
                           "`_init_connection`): install the pinned flwr (make setup)")


def deactivate_previous(superlink: str, root_ca: Path, key_file: Path, node_file: Path) -> bool:
    """Deactivate the node a previous SuperNode here noted in ``node_file``, if it is still online; True if it
    was. Signed with the node key at ``key_file``, over TLS trusting ``root_ca``."""
    try:
        node_id = int(node_file.read_text())
    except (OSError, ValueError):
        return False
    import httpx
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key
    from flwr.proto.fleet_pb2 import DeactivateNodeRequest
    from flwr.supercore.interceptors import RuntimeVersionHttpInterceptor
    from flwr.supernode.fleet_http_client import FleetHttpClient
    from flwr.supernode.node_auth_http_interceptor import NodeAuthHttpInterceptor

    key = load_ssh_private_key(key_file.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return False
    with FleetHttpClient.from_server_address(superlink, False, str(root_ca), interceptors=[
            RuntimeVersionHttpInterceptor(component_name="SuperNode"),
            NodeAuthHttpInterceptor(key, key.public_key())]) as client:
        try:
            client.DeactivateNode(DeactivateNodeRequest(node_id=node_id))
        except (httpx.HTTPError, RuntimeError):
            return False
    return True


class WorkerSupervisor:
    """Keeps one warm ClientApp worker running for this SuperNode; restarts it if it dies."""

    def __init__(self, runtime_api_address: str, secret_file: Path, log_file: Path, task_file: Path,
                 job: tuple[Path, str] | None = None) -> None:
        self.address, self.secret_file, self.log_file = runtime_api_address, secret_file, log_file
        self.task_file = task_file
        self.job = job  # the job's spec file and the node config: its model and records, loaded before ready
        self.read_fd, self.write_fd = os.pipe()
        self.proc: subprocess.Popen[bytes] | None = None
        #: set once a worker has imported the ClientApp and warmed torch up
        self.ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._keep_running, name="warm-worker", daemon=True).start()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # the pipe is full: the worker has wake-ups queued
            os.write(self.write_fd, b"\x01")

    def _spawn(self, warm_up: bool) -> subprocess.Popen[bytes]:
        out = open(self.log_file, "ab")  # noqa: SIM115  (owned by the child)
        ready_read, ready_write = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-m", "opendpg.fl.worker", "--runtime-api-address", self.address,
             "--auth-secret-file", str(self.secret_file), "--wake-fd", str(self.read_fd),
             "--parent-pid", str(os.getpid()), "--task-file", str(self.task_file), "--ready-fd", str(ready_write),
             *(["--warm-up"] if warm_up else []),
             *(["--job-spec", str(self.job[0]), "--node-config", self.job[1]] if self.job else [])],
            pass_fds=(self.read_fd, ready_write), stdout=out, stderr=subprocess.STDOUT)
        os.close(ready_write)
        threading.Thread(target=self._await_ready, args=(ready_read,), name="worker-ready", daemon=True).start()
        return proc

    def _await_ready(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            if pipe.read(1):  # empty: the worker died before it was ready
                self.ready.set()

    def _keep_running(self) -> None:
        first = True
        while True:
            # the first worker warms torch up before its SuperNode connects; a replacement is wanted at once
            self.proc, first = self._spawn(warm_up=first), False
            code = self.proc.wait()
            reason = f"the ClientApp worker died (exit {code}) while running this message"
            try:
                failed = fail_abandoned_task(self.address, self.task_file, reason)
            except Exception:  # the SuperNode itself may be going
                log.exception("could not answer the task the worker left")
                failed = False
            log.warning("warm ClientApp worker exited (%s)%s; restarting it", code,
                        ": its message is answered \"ClientApp crashed\" (sent again)" if failed else "")
            time.sleep(1.0)


class InProcessWorker:
    """Runs this SuperNode's ClientApp tasks in a thread of the SuperNode's own process: the worker's loop
    (:class:`opendpg.fl.worker.Worker`) on the SuperNode's state through :class:`opendpg.fl.worker.LocalRuntime`, so
    a message reaches the ClientApp without the Runtime API's HTTP round trips. Woken like a worker process (a byte
    on a pipe per stored message); a loop that fails is logged and started again."""

    def __init__(self, idle_poll: float = 2.0) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.idle_poll = idle_poll

    @staticmethod
    def prepare(job: tuple[Path, str] | None = None) -> None:
        """Import the ClientApp and torch and take a training step, before the SuperNode connects; with ``job``
        (its spec file and the node config), load its model and this provider's records too."""
        import torch

        from opendpg.fl.flower_app.client import app  # noqa: F401  (imported once, for every task)
        from opendpg.fl.train import warm_up

        warm_up()
        if job is not None:
            from opendpg.fl.worker import prepare_job

            prepare_job(*job)
        log.info("warm ClientApp ready in this SuperNode's process (pid %d, %d torch threads)", os.getpid(),
                 torch.get_num_threads())

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # the pipe is full: wake-ups are queued
            os.write(self.write_fd, b"\x01")

    def start(self, state_factory: Any) -> None:
        threading.Thread(target=self._serve, args=(state_factory,), name="clientapp-worker", daemon=True).start()

    def _serve(self, state_factory: Any) -> None:
        from opendpg.fl.worker import LocalRuntime, Worker

        while True:
            try:
                Worker(LocalRuntime(state_factory)).serve(self.read_fd, self.idle_poll)
                return
            except Exception:
                log.exception("the in-process ClientApp worker failed; starting it again")
                time.sleep(1.0)


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ours, _, flower = _split(argv)
    parser = argparse.ArgumentParser(prog="python -m opendpg.fl.supernode", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", action="store_true", help="one long-lived ClientApp worker (isolation process)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the ClientApp in a thread of the SuperNode itself (no worker process)")
    parser.add_argument("--runtime-port", type=int, required=True, help="port of the SuperNode's Runtime API")
    parser.add_argument("--poll-min", type=float, default=0.05, help="seconds between pulls right after a message")
    parser.add_argument("--poll-max", type=float, default=1.0, help="the longest pause between pulls when idle")
    parser.add_argument("--home", type=Path, required=True, help="folder for the worker's secret and log")
    parser.add_argument("--job-spec", type=Path, help="the job's spec (JSON): its model and this node's records "
                        "are loaded before the SuperNode connects (with --warm or --in-process)")
    return parser.parse_args(ours), flower


def _split(argv: list[str]) -> tuple[list[str], str, list[str]]:
    if "--" not in argv:
        return argv, "", []
    i = argv.index("--")
    return argv[:i], "--", argv[i + 1:]


def main(argv: list[str] | None = None) -> int:
    args, flower_args = _parse(sys.argv[1:] if argv is None else argv)
    check_flower()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    pacer = Pacer(args.poll_min, args.poll_max)
    pull = loop._pull_and_store_message
    supervisor: WorkerSupervisor | None = None
    runtime = ["--host", "127.0.0.1", "--port", str(args.runtime_port)]
    in_process: InProcessWorker | None = None
    link = argparse.ArgumentParser(add_help=False)
    for option in ("--superlink", "--root-certificates", "--auth-supernode-private-key", "--node-config"):
        link.add_argument(option)
    flower, _ = link.parse_known_args(flower_args)
    job = None if args.job_spec is None else (args.job_spec, flower.node_config or "")
    if args.warm or args.in_process:
        args.home.mkdir(parents=True, exist_ok=True)
        secret_file = args.home / "superexec.secret"
        secret_file.touch(mode=0o600)
        secret_file.write_bytes(secrets.token_bytes(32))
        runtime += ["--isolation", "process", "--superexec-auth-secret-file", str(secret_file)]
        if args.in_process:
            in_process = InProcessWorker()
        else:
            supervisor = WorkerSupervisor(f"127.0.0.1:{args.runtime_port}", secret_file, args.home / "worker.log",
                                          args.home / "task.json", job)

    def paced_pull(*a: Any, **kw: Any) -> int | None:
        started = time.monotonic()
        run_id = pull(*a, **kw)
        pacer.pulled(time.monotonic() - started, run_id is not None)
        if run_id is not None and (worker := supervisor or in_process) is not None:
            worker.wake()
        return run_id

    node_file = args.home / "node-id"
    authenticated = flower.auth_supernode_private_key and flower.root_certificates and flower.superlink
    if authenticated and deactivate_previous(flower.superlink, Path(flower.root_certificates),
                                             Path(flower.auth_supernode_private_key), node_file):
        log.info("deactivated the node a previous SuperNode left online")
    connect = loop._init_connection

    @contextlib.contextmanager
    def noting_node_id(*a: Any, **kw: Any) -> Iterator[Any]:
        with connect(*a, **kw) as connection:
            args.home.mkdir(parents=True, exist_ok=True)
            node_file.write_text(str(connection[0]))
            yield connection

    loop.time = pacer  # type: ignore[attr-defined,assignment]
    loop._pull_and_store_message = paced_pull
    loop._init_connection = noting_node_id
    if supervisor is not None:
        os.set_blocking(supervisor.write_fd, False)
        supervisor.start()
        # connect once the worker can take a message at once: a node that connects earlier is sent the round's
        # model and makes the round wait for torch to load
        if not supervisor.ready.wait(WORKER_READY_TIMEOUT):
            log.warning("the ClientApp worker is not ready after %.0f s; connecting anyway", WORKER_READY_TIMEOUT)
    from flwr.supernode import main as flwr_supernode_app
    supernode_cli = importlib.import_module("flwr.supernode.cli.flower_supernode")  # the module, not its function
    from flwr.supernode.cli.flower_supernode import flower_supernode

    if in_process is not None:
        in_process.prepare(job)  # before connecting, as a worker process is awaited
        start_api = getattr(supernode_cli, "_start_supernode_http_api", None)
        if not callable(start_api):  # where the state the ClientApp thread runs on is handed to the Runtime API
            raise RuntimeError("flwr.supernode.cli.flower_supernode changed (no `_start_supernode_http_api`): "
                               "install the pinned flwr (make setup)")

        def start_api_and_worker(config: Any, state_factory: Any) -> Any:
            started = start_api(config, state_factory)
            in_process.start(state_factory)
            return started

        supernode_cli._start_supernode_http_api = start_api_and_worker  # type: ignore[attr-defined]

    if not tracing_enabled():  # Flower's tracing middleware does nothing then; the worker's calls skip it
        flwr_supernode_app.RuntimeTracingMiddleware = PassThrough  # type: ignore[assignment,attr-defined]

    sys.argv = ["flower-supernode", *flower_args, *runtime]
    flower_supernode()
    return 0


if __name__ == "__main__":
    sys.exit(main())
