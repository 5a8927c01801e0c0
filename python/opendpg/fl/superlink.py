"""``python -m opendpg.fl.superlink [OURS] -- [flower-superlink arguments]``: Flower's SuperLink with its APIs
split over two listeners, and pulls that wait for work instead of being repeated.

Flower 1.41 serves the Fleet API (SuperNodes), the Control API (``flwr run``, ``flwr stop``, node registration:
no authentication in the open-source SuperLink) and the Runtime API (the ServerApp) on one HTTP port. Here one
SuperLink app (one state) is served twice:

- **internal** (Flower's own ``--host``/``--port``, loopback): every API, for the coordinator, ``flwr`` and the
  ServerApp.
- **fleet** (``--fleet-host``/``--fleet-port``, what providers reach): ``/v1/fleet/*`` and ``/health`` only;
  anything else is answered 404 before it reaches Flower. Same TLS certificate as the internal listener.

Flower's middlewares that serve one API only (Control authentication, licensing and event logs; node
authentication and the Fleet event log; Runtime tracing) run only on that API's requests (:class:`PathScoped`),
and the tracing middleware not at all while tracing is off (``FLWR_TRACING_ENABLED``), nor the event-log middlewares
without an event-log plugin: they then only pass requests on.

Direct Fleet calls: the calls a SuperNode makes for every message (pull and push messages and objects, confirm,
heartbeat) go straight to Flower's own parsing, node authentication, Fleet endpoint and error translation
(:class:`DirectFleet`), without the FastAPI routing, dependency solving and middleware layers between them.

Held pulls: a SuperNode's ``pull-messages`` that finds nothing is not answered at once; it is re-run when the
ServerApp has pushed a message and all its objects (or after ``--fleet-hold`` seconds), so an idle SuperNode
costs one request per hold instead of one per poll, and a message reaches it as soon as it is complete. Likewise
the ServerApp's pull of replies waits (``--runtime-hold``) until a SuperNode has pushed one. A pull also waits
(up to 2 s) while the other side is mid-push, since Flower's puller backs off a full second when it finds a
message whose objects have not all arrived. Only empty answers are held; the request is re-run through Flower
unchanged (its node-authentication signature stays valid for minutes).

This uses ``flwr.superlink.cli.flower_superlink`` and ``flwr.superlink.main.create_app`` as ``flower-superlink``
does (flwr is pinned; tests cover it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from typing import Any, Literal

import uvicorn
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

__all__ = ["DIRECT_FLEET", "FLEET_PREFIX", "SCOPED_MIDDLEWARE", "Counts", "DirectFleet", "FleetOnly", "HeldPulls",
           "PassThrough", "PathScoped", "Pushes", "direct_fleet_applies", "main", "scope_middleware",
           "tracing_enabled"]

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FLEET_PREFIX = "/v1/fleet/"
FLEET_PULL, FLEET_PUSH, FLEET_OBJECT = "/v1/fleet/pull-messages", "/v1/fleet/push-messages", "/v1/fleet/push-object"
RUNTIME_PULL, RUNTIME_PUSH, RUNTIME_OBJECT = ("/v1/runtime/pull-messages", "/v1/runtime/push-messages",
                                              "/v1/runtime/push-object")
PROTOBUF = b"application/protobuf"
SESSION_TTL = 60.0  # seconds after which a push session whose objects never all came is forgotten


class Pushes:
    """Messages being pushed one way (ServerApp to SuperNodes, or back): Flower pushes a message, then its objects
    one call each, under a session. Pulls of the other side wait while any is incomplete (a message pulled before
    its objects arrive costs its puller a one-second retry backoff), and wake when one completes."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[float, set[str]]] = {}  # session -> (started, objects still to come)
        self._event = asyncio.Event()
        self.closed = False

    def close(self) -> None:
        """Release every waiting pull (the SuperLink is stopping): nothing is held from now on."""
        self.closed = True
        self.pending.clear()
        self._fire()

    def started(self, session: str, objects: list[str]) -> None:
        if objects:
            self.pending[session] = (time.monotonic(), set(objects))
        else:
            self._fire()

    def arrived(self, session: str, object_id: str) -> None:
        entry = self.pending.get(session)
        if entry is not None:
            entry[1].discard(object_id)
            if not entry[1]:
                del self.pending[session]
                self._fire()

    def in_flight(self) -> bool:
        now = time.monotonic()
        for session, (started, _) in list(self.pending.items()):
            if now - started > SESSION_TTL:
                del self.pending[session]
        return bool(self.pending)

    def _fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until a push completes, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


def _decode(message: Any, body: bytes) -> Any | None:
    try:
        message.ParseFromString(body)
    except DecodeError:
        return None
    return message


def _protobuf(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    return status == 200 and dict(headers).get(b"content-type", b"").split(b";")[0] == PROTOBUF


class HeldPulls:
    """ASGI wrapper. A pull waits while the other side is still pushing a message's objects; a pull that finds
    nothing is re-run when the other side completes a push (or at its hold). Pushes are tracked by session."""

    def __init__(self, app: ASGIApp, holds: dict[str, float], settle: float = 2.0) -> None:
        from flwr.proto.fleet_pb2 import PullMessagesResponse, PushMessagesResponse
        from flwr.proto.runtime_pb2 import PullAppMessagesResponse, PushAppMessagesResponse

        self.app = app
        self.holds = holds  # pull path -> seconds to hold an empty answer
        self.settle = settle  # the longest a pull waits for pushes in flight
        to_nodes, to_server = Pushes(), Pushes()
        self.pull_waits_on = {FLEET_PULL: to_nodes, RUNTIME_PULL: to_server}
        self.pushes = {RUNTIME_PUSH: to_nodes, RUNTIME_OBJECT: to_nodes, FLEET_PUSH: to_server,
                       FLEET_OBJECT: to_server}
        self.answers = {FLEET_PULL: PullMessagesResponse, RUNTIME_PULL: PullAppMessagesResponse,
                        FLEET_PUSH: PushMessagesResponse, RUNTIME_PUSH: PushAppMessagesResponse}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (path not in self.holds and path not in self.pushes):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if path in self.holds:
            status, headers, answer = await self._pull(path, scope, body)
        else:
            status, headers, answer = await _call(self.app, scope, body)
            if _protobuf(status, headers):
                self._track(path, body, answer)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def close(self) -> None:
        """Answer every held pull now and hold none from now on (the SuperLink is stopping)."""
        for pushes in self.pull_waits_on.values():
            pushes.close()

    async def _pull(self, path: str, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        pushes = self.pull_waits_on[path]
        settle_until = time.monotonic() + self.settle
        while pushes.in_flight() and time.monotonic() < settle_until:
            await pushes.wait(settle_until - time.monotonic())
        deadline = time.monotonic() + self.holds[path]
        while True:
            status, headers, answer = await _call(self.app, scope, body)
            left = deadline - time.monotonic()
            if left <= 0 or pushes.closed or not _protobuf(status, headers):
                break
            pulled = _decode(self.answers[path](), answer)
            if pulled is None or len(pulled.messages_list) > 0:
                break
            await pushes.wait(left)
        return status, headers, answer

    def _track(self, path: str, body: bytes, answer: bytes) -> None:
        pushes = self.pushes[path]
        if path in (FLEET_PUSH, RUNTIME_PUSH):
            pushed = _decode(self.answers[path](), answer)
            if pushed is not None:
                pushes.started(pushed.session_id, list(pushed.objects_to_push))
        else:
            from flwr.proto.message_pb2 import PushObjectRequest

            request = _decode(PushObjectRequest(), body)
            if request is not None:
                pushes.arrived(request.session_id, request.object_id)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _call(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run one request through ``app`` with ``body``; its status, headers and body."""
    given = False
    never = asyncio.get_running_loop().create_future()
    status, headers, chunks = 500, [], []

    async def replay() -> ASGIMessage:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await never  # type: ignore[no-any-return]  # the client stays: nothing else to receive

    async def capture(message: ASGIMessage) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(dict(scope), replay, capture)
    finally:
        never.cancel()
    return status, headers, b"".join(chunks)


class Counts:
    """ASGI wrapper counting requests and the bytes each way by path (``--stats-file``: written at exit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: dict[str, dict[str, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = self.paths.setdefault(scope["path"], {"requests": 0, "bytes_in": 0, "bytes_out": 0})
        entry["requests"] += 1

        async def counted_receive() -> ASGIMessage:
            message = await receive()
            entry["bytes_in"] += len(message.get("body", b""))
            return message

        async def counted_send(message: ASGIMessage) -> None:
            entry["bytes_out"] += len(message.get("body", b""))
            await send(message)

        await self.app(scope, counted_receive, counted_send)


#: Flower's SuperLink middlewares that act only on one API's requests (each looks at the path and passes any other
#: request on unchanged), by class name, and the path prefix of that API
SCOPED_MIDDLEWARE = {
    "ControlSensitiveResponseMiddleware": "/v1/control/", "ControlAuthenticationMiddleware": "/v1/control/",
    "ControlLicenseMiddleware": "/v1/control/", "ControlEventLogMiddleware": "/v1/control/",
    "NodeAuthMiddleware": FLEET_PREFIX, "FleetEventLogMiddleware": FLEET_PREFIX,
    "RuntimeTracingMiddleware": "/v1/runtime/",
}


class PathScoped:
    """ASGI wrapper: a middleware that runs only for requests under ``prefix``; any other request goes straight to
    the app. Starlette's ``BaseHTTPMiddleware`` costs a task group and a pair of streams per request even when it
    only passes the request on; Flower stacks nine, most for one API only, so a Fleet request went through seven
    that had nothing to do with it."""

    def __init__(self, app: ASGIApp, middleware: Any, prefix: str) -> None:
        cls, args, kwargs = middleware
        self.app, self.prefix = app, prefix
        self.scoped: ASGIApp = cls(app, *args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        await self.scoped(scope, receive, send)


class PassThrough:
    """ASGI middleware that hands every request to the app: stands in for a middleware that would do nothing."""

    def __init__(self, app: ASGIApp, *_: Any, **__: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def tracing_enabled() -> bool:
    """Whether Flower's runtime tracing is on (its ``RuntimeTracingMiddleware`` does nothing otherwise)."""
    return os.getenv("FLWR_TRACING_ENABLED") == "1"


def scope_middleware(stack: list[Any], *, control_event_log: bool = False,
                     fleet_event_log: bool = False) -> list[Any]:
    """Flower's middleware stack (starlette ``Middleware`` entries, outermost first) with each middleware of
    :data:`SCOPED_MIDDLEWARE` wrapped in :class:`PathScoped`, and without those that only pass requests on: the
    tracing middleware when tracing is off, the Control and Fleet event-log middlewares when the SuperLink has no
    event-log plugin for that API (``control_event_log``, ``fleet_event_log``). The order and every other entry stay
    as they are."""
    from starlette.middleware import Middleware

    def name(entry: Any) -> str:
        return str(getattr(entry.cls, "__name__", ""))

    idle = {"RuntimeTracingMiddleware": not tracing_enabled(), "ControlEventLogMiddleware": not control_event_log,
            "FleetEventLogMiddleware": not fleet_event_log}
    return [Middleware(PathScoped, middleware=entry, prefix=SCOPED_MIDDLEWARE[name(entry)])
            if name(entry) in SCOPED_MIDDLEWARE else entry for entry in stack if not idle.get(name(entry), False)]


#: the Fleet calls a SuperNode makes for every message, by path: answered by :class:`DirectFleet`
DIRECT_FLEET = {"/v1/fleet/send-node-heartbeat": "fleet_send_node_heartbeat",
                "/v1/fleet/pull-messages": "fleet_pull_messages", "/v1/fleet/push-messages": "fleet_push_messages",
                "/v1/fleet/push-object": "fleet_push_object", "/v1/fleet/pull-object": "fleet_pull_object",
                "/v1/fleet/confirm-message-received": "fleet_confirm_message_received"}


class DirectFleet:
    """ASGI wrapper: the Fleet calls of :data:`DIRECT_FLEET` go from the ASGI request straight to Flower's own
    pieces, in the order its middleware stack applies them: the media-type check and protobuf parsing of its
    ``ProtobufTranslationMiddleware``, ``authenticate_node`` of its ``NodeAuthMiddleware``, the Fleet router's
    endpoint function with the request's ``LinkState``, and ``http_error_translator`` for anything raised (so an
    error answer is Flower's, byte for byte). Every other request goes to Flower's app.

    What this skips: Starlette's routing and FastAPI's dependency solving (the Fleet router's one extra dependency,
    ``VersionDependency(reject_incompatible=False)``, has no effect), a ``BaseHTTPMiddleware`` task group and
    stream pair per middleware layer, and two thread hops. Per Fleet call this is most of the SuperLink's CPU.
    The handler runs on the event loop: Flower's in-memory ``LinkState`` answers in microseconds, under its lock.

    Use it only where nothing else acts on Fleet calls: no extension middleware, no Fleet event log
    (:func:`direct_fleet_applies`)."""

    def __init__(self, app: Any) -> None:
        from flwr.supercore.protobuf.translation import PROTOBUF_REQUEST_TYPES
        from flwr.superlink.routers.fleet import router as fleet_router

        self.app = app
        self.routes: dict[str, tuple[type[Any], Callable[..., Any]]] = {}
        for path, name in DIRECT_FLEET.items():
            endpoint = getattr(fleet_router, name)
            if set(inspect.signature(endpoint).parameters) != {"request", "state"}:
                raise RuntimeError(f"flwr's {name} takes other arguments than (request, state): install the "
                                   "pinned flwr")
            self.routes[path] = (PROTOBUF_REQUEST_TYPES[("POST", path)], endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        from fastapi import Response
        from flwr.supercore.error.http import http_error_translator
        from flwr.supercore.protobuf.constants import PROTOBUF_MEDIA_TYPE
        from flwr.supercore.protobuf.translation import ProtobufTranslationMiddleware as Translation
        from flwr.superlink.dependencies.linkstate import get_linkstate
        from flwr.superlink.routers.fleet.node_auth import authenticate_node
        from starlette.requests import Request

        body = await _read_body(receive)
        request = Request({**scope, "app": self.app})
        request_type, endpoint = route

        def answer() -> Response:
            Translation._check_request_media_type(request)
            request.state.protobuf_request = Translation._parse_request(body, request_type)
            authenticate_node(request)
            result = endpoint(request=request.state.protobuf_request, state=get_linkstate(request))
            return Response(content=result.SerializeToString(), media_type=PROTOBUF_MEDIA_TYPE)

        async def answer_next(_: Request) -> Response:
            return answer()

        # anything raised is answered by Flower's own translator: its error contract, or a 500
        response = await http_error_translator(request, answer_next)
        await response(scope, receive, send)


def direct_fleet_applies(fleet_event_log: bool) -> bool:
    """Whether :class:`DirectFleet` answers Fleet calls as Flower's stack would: no extension middleware (it could
    act on any request) and no Fleet event-log plugin (its middleware writes a log around each Fleet call)."""
    from flwr.superlink import extensions

    return not fleet_event_log and not extensions.get_middleware()


class FleetOnly:
    """ASGI wrapper for the listener providers reach: the Fleet API and the health check, nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not (scope["path"].startswith(FLEET_PREFIX) or scope["path"] == "/health"):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"not served on this listener\n"})
            return
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`_serve` (two servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve(servers: list[uvicorn.Server], on_stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        on_stop()
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    stop()  # one stopped (or failed to bind): stop the other
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    i = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="python -m opendpg.fl.superlink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet-host", required=True, help="address the providers' SuperNodes reach")
    parser.add_argument("--fleet-port", type=int, required=True)
    parser.add_argument("--fleet-hold", type=float, default=10.0, help="seconds an empty SuperNode pull waits")
    parser.add_argument("--runtime-hold", type=float, default=1.0, help="seconds an empty ServerApp pull waits")
    parser.add_argument("--flower-fleet", action="store_true",
                        help="every Fleet call through Flower's whole HTTP stack (no DirectFleet), for comparison")
    parser.add_argument("--stats-file", help="write request counts and bytes by path here (JSON) at exit")
    args = parser.parse_args(argv[:i])

    from flwr.supercore.http_logging import get_uvicorn_log_config
    from flwr.supercore.logger import console_handler
    from flwr.superlink import main as flwr_superlink
    from flwr.superlink.cli.flower_superlink import SuperLinkLifespan, _parse_superlink_lifespan_config
    from flwr.superlink.main import create_app

    sys.argv = ["flower-superlink", *argv[i + 1:]]
    config = _parse_superlink_lifespan_config()
    flower_stack = flwr_superlink._get_middleware
    flwr_superlink._get_middleware = lambda: scope_middleware(  # type: ignore[attr-defined]
        flower_stack(), control_event_log=config.event_log_plugin is not None,
        fleet_event_log=config.fleet_event_log_plugin is not None)
    app: ASGIApp = create_app(config, SuperLinkLifespan)
    if not args.flower_fleet and direct_fleet_applies(config.fleet_event_log_plugin is not None):
        app = DirectFleet(app)
    held = None
    if args.fleet_hold > 0 or args.runtime_hold > 0:  # 0 and 0: Flower's behaviour, for comparison
        app = held = HeldPulls(app, {FLEET_PULL: args.fleet_hold, RUNTIME_PULL: args.runtime_hold})
    logging = get_uvicorn_log_config(console_handler.level)

    def listener(asgi: ASGIApp, host: str, port: int, lifespan: Literal["on", "off"]) -> _Server:
        return _Server(uvicorn.Config(asgi, host=host, port=port, lifespan=lifespan, access_log=False,
                                      log_config=logging, ssl_keyfile=config.ssl_keyfile,
                                      ssl_certfile=config.ssl_certfile, timeout_graceful_shutdown=3))

    counts = Counts(app)

    def stopping() -> None:
        if held is not None:
            held.close()
        if args.stats_file:  # now: a slow shutdown may end in SIGKILL
            with open(args.stats_file, "w") as out:
                json.dump(counts.paths, out, indent=1, sort_keys=True)

    servers: list[uvicorn.Server] = [listener(counts, config.host, config.port, "on"),  # Flower's lifespan: once, here
               listener(FleetOnly(counts), args.fleet_host, args.fleet_port, "off")]
    # the event loop uvicorn would pick on its own (uvloop when installed, as for ``flower-superlink``)
    with asyncio.Runner(loop_factory=servers[0].config.get_loop_factory()) as runner:
        runner.run(_serve(servers, stopping))
    return 0


if __name__ == "__main__":
    sys.exit(main())
