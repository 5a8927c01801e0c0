"""A warm ClientApp worker: runs every task of one SuperNode with the OpenDPG ClientApp loaded once.

Flower's stock SuperExec starts a fresh ``flwr-clientapp`` process per message, which imports torch, reads the
provider's records and builds the model again each time. :class:`Worker` does what ``flwr-clientapp`` does for one
task (pull the task input and message through the SuperNode's Runtime API with the task's token, call the
ClientApp, push the reply and the task's final status, heartbeat meanwhile) in a loop, with the OpenDPG ClientApp
imported once; the ClientApp keeps each job's spec, records and model between messages. It reaches the Runtime API
in one of two ways:

- :class:`LocalRuntime`: inside the SuperNode's own process (a thread there, see :mod:`opendpg.fl.supernode`), by
  calling the handlers Flower's Runtime API routes call, on the SuperNode's state: no HTTP between the two.
- :class:`HttpRuntime`: from a process of its own (``python -m opendpg.fl.worker``) over the Runtime API's HTTP.

As a process, while it runs a task it keeps a note of it (``--task-file``: the task's token and the message's
metadata). If the worker dies mid-task, its supervisor answers that message at once with Flower's "ClientApp
crashed" error (:func:`fail_abandoned_task`), rather than leaving it for a minute until the task's heartbeat lapses,
and starts a fresh worker; the OpenDPG ServerApp sends a train message answered so to the node again.

It serves only the OpenDPG app: a run of any other FAB is answered with an error reply, so a coordinator cannot
make a provider run code it did not install. It asks for work (``AcquireTask``, signed with the SuperNode's
SuperExec secret) when the SuperNode says a message arrived (a byte on ``--wake-fd``) and every
``--idle-poll`` seconds otherwise.

Run as ``python -m opendpg.fl.worker --runtime-api-address 127.0.0.1:PORT [--wake-fd FD] ...``. It uses Flower's
Runtime API client and the helpers of ``flwr.supernode.runtime.run_clientapp`` (flwr is pinned; tests cover it).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import select
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from flwr.app import Context, Error, Message, RecordDict
from flwr.app.message.message import remove_content_from_message
from flwr.common.constant import ErrorCode, SubStatus
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.proto.message_pb2 import (
    ConfirmMessageReceivedRequest,
    ConfirmMessageReceivedResponse,
    PullObjectRequest,
    PullObjectResponse,
    PushObjectRequest,
    PushObjectResponse,
)
from flwr.proto.message_pb2 import Message as MessageProto
from flwr.proto.runtime_pb2 import (
    AcquireTaskRequest,
    AcquireTaskResponse,
    PullAppMessagesRequest,
    PullAppMessagesResponse,
    PullTaskInputRequest,
    PullTaskInputResponse,
    PushAppMessagesRequest,
    PushAppMessagesResponse,
    PushTaskOutputRequest,
    PushTaskOutputResponse,
    SendTaskHeartbeatRequest,
    SendTaskHeartbeatResponse,
)
from flwr.proto.task_pb2 import Task
from flwr.supercore.constant import TaskType
from flwr.supercore.error import ApiErrorCode, FlowerError
from flwr.supercore.heartbeat import HeartbeatSender, make_task_heartbeat_fn_http
from flwr.supercore.interceptors import (
    RuntimeTokenHttpInterceptor,
    RuntimeVersionHttpInterceptor,
    SuperExecAuthHttpInterceptor,
)
from flwr.supercore.retry import make_simple_http_retry_invoker
from flwr.supercore.runtime import RuntimeHttpClient
from flwr.supercore.servicer.runtime import runtime_handlers as core_handlers
from flwr.supernode.nodestate import NodeState, NodeStateFactory
from flwr.supernode.runtime.run_clientapp import pull_task_input, push_message, push_task_output
from flwr.supernode.servicer.runtime import runtime_handlers as node_handlers

__all__ = ["APP_ID", "HttpRuntime", "LocalRuntime", "RuntimeClient", "RuntimeConnector", "TaskOutcome", "Worker",
           "fail_abandoned_task", "main", "prepare_job"]

log = logging.getLogger("opendpg.fl.worker")
ACQUIRE_METHOD = "/flwr.proto.Runtime/AcquireTask"
COMPONENT = "flwr-clientapp"  # what the SuperNode's Runtime API expects of a ClientApp process


def _app_id() -> str:
    project = tomllib.loads((Path(__file__).resolve().parent / "flower_app" / "pyproject.toml").read_text())
    return f"{project['tool']['flwr']['app']['publisher']}/{project['project']['name']}"


#: the FAB id of the OpenDPG app (``publisher/name`` of its pyproject), the only one this worker runs
APP_ID = _app_id()


class RuntimeClient(Protocol):
    """The calls of a SuperNode's Runtime API a ClientApp task makes (Flower's ``RuntimeHttpClient`` has them)."""

    def AcquireTask(self, request: AcquireTaskRequest) -> AcquireTaskResponse: ...
    def PullTaskInput(self, request: PullTaskInputRequest) -> PullTaskInputResponse: ...
    def PullMessages(self, request: PullAppMessagesRequest) -> PullAppMessagesResponse: ...
    def PullObject(self, request: PullObjectRequest) -> PullObjectResponse: ...
    def ConfirmMessageReceived(self, request: ConfirmMessageReceivedRequest
                               ) -> ConfirmMessageReceivedResponse: ...
    def PushMessages(self, request: PushAppMessagesRequest) -> PushAppMessagesResponse: ...
    def PushObject(self, request: PushObjectRequest) -> PushObjectResponse: ...
    def PushTaskOutput(self, request: PushTaskOutputRequest) -> PushTaskOutputResponse: ...
    def SendTaskHeartbeat(self, request: SendTaskHeartbeatRequest) -> SendTaskHeartbeatResponse: ...
    def close(self) -> None: ...


class RuntimeConnector(Protocol):
    """Opens a Runtime API client: for acquiring tasks (``token`` None) or for one task (its token)."""

    def __call__(self, token: str | None) -> RuntimeClient: ...

    def heartbeat(self, client: RuntimeClient) -> Callable[[], bool]:
        """One task heartbeat through ``client``: True if the SuperNode took it."""
        ...


class HttpRuntime:
    """The SuperNode's Runtime API over HTTP, for a worker in its own process: acquiring tasks is signed with the
    SuperExec secret, a task's calls carry its token."""

    def __init__(self, address: str, *, root_certificates: bytes | None = None,
                 auth_secret: bytes | None = None) -> None:
        self.address, self.root_certificates, self.auth_secret = address, root_certificates, auth_secret

    def __call__(self, token: str | None) -> RuntimeClient:
        interceptors: list[object] = [RuntimeVersionHttpInterceptor(component_name=COMPONENT)]
        if token is not None:
            interceptors.append(RuntimeTokenHttpInterceptor(token))
        elif self.auth_secret:
            interceptors.append(SuperExecAuthHttpInterceptor(master_secret=self.auth_secret,
                                                             protected_methods={ACQUIRE_METHOD}))
        return RuntimeHttpClient.from_server_address(  # type: ignore[return-value]
            server_address=self.address, insecure=self.root_certificates is None,
            root_certificates=self.root_certificates, interceptors=interceptors,  # type: ignore[arg-type]
            retry_invoker=make_simple_http_retry_invoker())

    def heartbeat(self, client: RuntimeClient) -> Callable[[], bool]:
        return make_task_heartbeat_fn_http(client)  # type: ignore[arg-type]


class LocalRuntime:
    """The SuperNode's Runtime API called inside the SuperNode's own process (a worker thread there): the same
    handlers Flower's Runtime API routes call, on the SuperNode's state, without HTTP. A task's calls are checked
    against its token as the HTTP API checks them."""

    def __init__(self, state_factory: NodeStateFactory) -> None:
        self.state_factory = state_factory

    def __call__(self, token: str | None) -> RuntimeClient:
        return _LocalClient(self.state_factory, token)

    def heartbeat(self, client: RuntimeClient) -> Callable[[], bool]:
        # never Flower's SIGINT on a refused heartbeat: here it would stop the SuperNode itself
        return lambda: bool(client.SendTaskHeartbeat(SendTaskHeartbeatRequest()).success)


class _LocalClient:
    def __init__(self, state_factory: NodeStateFactory, token: str | None) -> None:
        self.state_factory, self.token = state_factory, token

    def _task(self) -> tuple[NodeState, Task]:
        state = self.state_factory.state()
        task = state.get_task_by_token(self.token) if self.token else None
        if task is None:
            raise FlowerError(ApiErrorCode.RUNTIME_AUTHENTICATION_FAILED, "Runtime task-token authentication failed.")
        return state, task

    def AcquireTask(self, request: AcquireTaskRequest) -> AcquireTaskResponse:
        return node_handlers.acquire_task(request, self.state_factory.state())

    def PullTaskInput(self, request: PullTaskInputRequest) -> PullTaskInputResponse:
        return node_handlers.pull_task_input(request, *self._task())

    def PullMessages(self, request: PullAppMessagesRequest) -> PullAppMessagesResponse:
        return node_handlers.pull_messages(request, *self._task())

    def PullObject(self, request: PullObjectRequest) -> PullObjectResponse:
        return node_handlers.pull_object(request, *self._task())

    def ConfirmMessageReceived(self, request: ConfirmMessageReceivedRequest
                               ) -> ConfirmMessageReceivedResponse:
        return node_handlers.confirm_message_received(request, *self._task())

    def PushMessages(self, request: PushAppMessagesRequest) -> PushAppMessagesResponse:
        return node_handlers.push_messages(request, *self._task())

    def PushObject(self, request: PushObjectRequest) -> PushObjectResponse:
        return node_handlers.push_object(request, *self._task())

    def PushTaskOutput(self, request: PushTaskOutputRequest) -> PushTaskOutputResponse:
        return node_handlers.push_task_output(request, *self._task())

    def SendTaskHeartbeat(self, request: SendTaskHeartbeatRequest) -> SendTaskHeartbeatResponse:
        return core_handlers.send_task_heartbeat(request, *self._task())

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class TaskOutcome:
    run_id: int
    message_type: str
    ok: bool
    seconds: float
    detail: str = ""


class Worker:
    """Runs the tasks of one SuperNode with the OpenDPG ClientApp loaded once."""

    def __init__(self, runtime: RuntimeConnector, *, task_file: Path | None = None, warm_up: bool = False) -> None:
        from opendpg.fl.flower_app.client import app  # torch and the app: once, for every task

        if warm_up:  # torch's first-step costs now, before the first message, not in its round
            from opendpg.fl.train import warm_up as warm_torch_up

            warm_torch_up()
        self.app = app
        self.runtime = runtime
        self.task_file = task_file
        self.client = runtime(None)

    def run_pending(self) -> list[TaskOutcome]:
        """Run every ClientApp task the SuperNode has for us now."""
        outcomes: list[TaskOutcome] = []
        while True:
            res = self.client.AcquireTask(AcquireTaskRequest(supported_task_types=[TaskType.CLIENT_APP]))
            if not (res.HasField("task") and res.token):
                return outcomes
            outcomes.append(self.run_task(res.token))

    def run_task(self, token: str) -> TaskOutcome:
        """One task, as ``flwr-clientapp --token`` would run it, in this process."""
        started = time.monotonic()
        client = self.runtime(token)
        heartbeat = HeartbeatSender(self.runtime.heartbeat(client))
        flower_client = cast(RuntimeHttpClient, client)  # Flower's task helpers make only RuntimeClient's calls
        heartbeat.start()
        message = reply = context = None
        run_id, status, detail = 0, SubStatus.FAILED, ""
        try:
            message, context, run, _fab = pull_task_input(flower_client)
            run_id = run.run_id
            self._note(token, message, context)
            if run.fab_id != APP_ID:
                detail = f"this node runs only the {APP_ID} app, not {run.fab_id!r}"
                reply = Message(Error(ErrorCode.LOAD_CLIENT_APP_EXCEPTION, detail), reply_to=message)
            else:
                reply = self.app(message=message, context=context)
                status = SubStatus.COMPLETED
        except Exception as exc:  # the ServerApp sees an error reply; the worker goes on
            detail = f"{type(exc).__name__}: {exc}"
            log.exception("ClientApp task failed")
            if message is not None:
                reply = Message(Error(ErrorCode.CLIENT_APP_RAISED_EXCEPTION, detail), reply_to=message)
        finally:
            try:
                if reply is not None and context is not None:
                    push_message(flower_client, reply, context)
            except Exception as exc:
                status, detail = SubStatus.FAILED, f"could not push the reply: {exc}"
                log.exception("pushing the reply failed")
            push_task_output(flower_client, context, status, detail)
            heartbeat.stop()
            client.close()
            if self.task_file is not None:
                self.task_file.unlink(missing_ok=True)
        kind = message.metadata.message_type if message is not None else ""
        return TaskOutcome(run_id, kind, status == SubStatus.COMPLETED, time.monotonic() - started, detail)

    def _note(self, token: str, message: Message, context: Context) -> None:
        """What the supervisor needs to answer this task if the worker dies running it."""
        if self.task_file is None:
            return
        header = message_to_proto(remove_content_from_message(message)).SerializeToString()
        note = {"token": token, "run_id": context.run_id, "node_id": context.node_id,
                "message": base64.b64encode(header).decode()}
        fd = os.open(self.task_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(note, out)

    def serve(self, wake_fd: int | None, idle_poll: float) -> None:
        """Run tasks as they come, until the process is stopped."""
        while True:
            for outcome in self.run_pending():
                log.info("task %s: %s message of run %d in %.2f s%s", "done" if outcome.ok else "FAILED",
                         outcome.message_type, outcome.run_id, outcome.seconds,
                         f" ({outcome.detail})" if outcome.detail else "")
            if wake_fd is None:
                time.sleep(idle_poll)
                continue
            ready, _, _ = select.select([wake_fd], [], [], idle_poll)
            if ready and not os.read(wake_fd, 4096):  # the SuperNode closed its end: it is gone
                return


def prepare_job(spec_file: Path, node_config: str) -> bool:
    """Load the job's model and this provider's records before the first message (see
    :func:`opendpg.fl.flower_app.client.prepare`); ``node_config``: the SuperNode's ``--node-config``, as Flower
    parses it. A failure is logged, not raised: the first message then meets the same error and its reply carries
    it to the ServerApp. Returns whether it loaded."""
    from flwr.common.config import parse_config_args

    from opendpg.fl.flower_app.client import prepare

    started = time.monotonic()
    try:
        prepare(spec_file.read_text(), parse_config_args([node_config] if node_config else None))
    except Exception:
        log.exception("could not load the job's model and records before its first message (%s)", spec_file)
        return False
    log.info("job's model and records loaded before its first message, in %.2f s", time.monotonic() - started)
    return True


def fail_abandoned_task(runtime_api_address: str, task_file: Path, reason: str) -> bool:
    """Answer the task a dead worker left (noted in ``task_file``) with an error reply and a failed status, as
    ``flwr-clientapp`` does when its ClientApp raises. True if there was one."""
    try:
        note = json.loads(task_file.read_text())
    except (OSError, ValueError):
        return False
    message = message_from_proto(MessageProto.FromString(base64.b64decode(note["message"])))
    context = Context(run_id=int(note["run_id"]), node_id=int(note["node_id"]), node_config={}, state=RecordDict(),
                      run_config={})
    client = RuntimeHttpClient.from_server_address(
        server_address=runtime_api_address, insecure=True, root_certificates=None,
        interceptors=[RuntimeVersionHttpInterceptor(component_name=COMPONENT),  # type: ignore[list-item]
                      RuntimeTokenHttpInterceptor(str(note["token"]))],
        retry_invoker=make_simple_http_retry_invoker())
    try:  # Flower's code for a ClientApp that stopped responding: the ServerApp sends the message again
        push_message(client, Message(Error(ErrorCode.CLIENT_APP_CRASHED, reason), reply_to=message), context)
        push_task_output(client, None, SubStatus.FAILED, reason)
    finally:
        client.close()
        task_file.unlink(missing_ok=True)
    return True


def _exit_with_parent(parent_pid: int, grace: float = 5.0) -> None:
    """End this process once ``parent_pid`` (the SuperNode that started it) is gone: a SIGINT first, which stops
    the serve loop cleanly, then ``os._exit`` after ``grace`` seconds if nothing ended it (Flower's connection retry
    loop, reconnecting to a Runtime API that will never come back, does not end on it)."""

    def alive() -> bool:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while alive():
            time.sleep(0.2)
        signal.raise_signal(signal.SIGINT)
        time.sleep(grace)
        log.warning("the SuperNode (pid %d) is gone; exiting", parent_pid)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-monitor").start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime-api-address", required=True, help="the SuperNode's Runtime API, host:port")
    parser.add_argument("--root-certificates", type=Path, help="CA of the Runtime API's TLS certificate")
    parser.add_argument("--auth-secret-file", type=Path, help="the SuperNode's SuperExec auth secret")
    parser.add_argument("--wake-fd", type=int, help="a pipe the SuperNode writes a byte to when a message came")
    parser.add_argument("--idle-poll", type=float, default=2.0, help="seconds between asking for work unwoken")
    parser.add_argument("--parent-pid", type=int, help="exit when this process (the SuperNode) is gone")
    parser.add_argument("--task-file", type=Path, help="where to note the task being run (for the supervisor)")
    parser.add_argument("--ready-fd", type=int, help="a pipe to write one byte to once the worker is ready")
    parser.add_argument("--warm-up", action="store_true", help="take a training step before saying it is ready")
    parser.add_argument("--job-spec", type=Path, help="the job's spec: load its model and records before ready")
    parser.add_argument("--node-config", default="", help="the SuperNode's --node-config (with --job-spec)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per Runtime API call otherwise
    if args.parent_pid is not None:
        _exit_with_parent(args.parent_pid)
    runtime = HttpRuntime(args.runtime_api_address,
                          root_certificates=args.root_certificates.read_bytes() if args.root_certificates else None,
                          auth_secret=args.auth_secret_file.read_bytes() if args.auth_secret_file else None)
    worker = Worker(runtime, task_file=args.task_file, warm_up=args.warm_up)
    if args.job_spec is not None:
        prepare_job(args.job_spec, args.node_config)
    import torch

    log.info("warm ClientApp worker ready (pid %d, %d torch threads) for %s", os.getpid(), torch.get_num_threads(),
             args.runtime_api_address)
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"\x01")
        os.close(args.ready_fd)
    with contextlib.suppress(KeyboardInterrupt):  # the parent monitor's SIGINT
        worker.serve(args.wake_fd, args.idle_poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())
