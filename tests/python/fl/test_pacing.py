"""How the SuperNode paces its pulls and how the SuperLink knows a push is complete (the logic under
``opendpg.fl.supernode`` and ``opendpg.fl.superlink``; the processes themselves run in test_links.py)."""

import asyncio

import pytest

from opendpg.fl.superlink import Pushes
from opendpg.fl.supernode import IDLE_SLEEP, Pacer


def test_after_a_held_pull_the_node_pulls_again_at_once():
    pacer = Pacer(0.01, 0.04)
    pacer.pulled(seconds=2.0, got_message=False)  # the SuperLink held it: nothing came for 2 s
    pacer.sleep(IDLE_SLEEP)
    assert pacer.delay == 0.01


def test_quick_empty_pulls_back_off_to_the_slowest_and_a_message_resets():
    pacer = Pacer(0.01, 0.04)
    delays = []
    for _ in range(4):
        pacer.pulled(seconds=0.001, got_message=False)  # a SuperLink that answers empty pulls at once
        pacer.sleep(IDLE_SLEEP)
        delays.append(pacer.delay)
    assert delays == [0.02, 0.04, 0.04, 0.04]
    pacer.pulled(seconds=0.001, got_message=True)
    assert pacer.delay == 0.01


def test_waits_for_replies_are_short():
    pacer = Pacer(0.01, 0.04)
    pacer.delay = 0.04
    pacer.sleep(0.5)  # Flower's wait for a reply
    assert pacer.delay == 0.04  # not an idle pull: no back-off change


def test_poll_bounds_are_checked():
    with pytest.raises(ValueError, match="0 < min <= max"):
        Pacer(0.5, 0.1)


def test_a_push_is_in_flight_until_its_last_object_arrives():
    async def scenario():
        pushes = Pushes()
        pushes.started("s1", ["a", "b"])
        woken = asyncio.create_task(pushes.wait(5.0))
        pushes.arrived("s1", "a")
        await asyncio.sleep(0)
        in_between = pushes.in_flight() and not woken.done()
        pushes.arrived("s1", "b")
        await asyncio.wait_for(woken, 1.0)
        return in_between, pushes.in_flight()

    in_between, after = asyncio.run(scenario())
    assert in_between and not after


def test_a_push_with_nothing_to_send_completes_at_once():
    async def scenario():
        pushes = Pushes()
        woken = asyncio.create_task(pushes.wait(5.0))
        await asyncio.sleep(0)
        pushes.started("s2", [])
        await asyncio.wait_for(woken, 1.0)
        return pushes.in_flight()

    assert asyncio.run(scenario()) is False


def test_a_scoped_middleware_runs_only_on_its_apis_requests_and_keeps_its_place():
    # Prepare: Flower's own SuperLink stack, and an app that notes which middlewares a request went through
    from flwr.superlink.main import _get_middleware
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware

    from opendpg.fl.superlink import SCOPED_MIDDLEWARE, PathScoped, scope_middleware

    seen: list[str] = []

    class Noting(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            seen.append(request.url.path)
            return await call_next(request)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scoped = PathScoped(app, Middleware(Noting), "/v1/fleet/")

    async def call(path: str) -> None:
        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_):
            pass

        await scoped({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""},
                     receive, send)

    # Execute
    asyncio.run(call("/v1/fleet/pull-messages"))
    asyncio.run(call("/v1/runtime/pull-messages"))
    stack = scope_middleware(_get_middleware())

    logged = scope_middleware(_get_middleware(), control_event_log=True, fleet_event_log=True)

    # Assert: the fleet request went through the middleware, the runtime one did not; in Flower's stack every
    # API-specific middleware is scoped, in place, the ones every request needs are left as they are, and the
    # tracing middleware (a no-op with tracing off, as here) and the event-log ones (no-ops without a plugin) are
    # gone, the event-log ones kept when there is a plugin
    assert seen == ["/v1/fleet/pull-messages"]

    def names(entries, dropped):
        return [entry.kwargs["middleware"].cls.__name__ if entry.cls is PathScoped else entry.cls.__name__
                for entry in entries if entry.cls.__name__ not in dropped]

    idle = {"RuntimeTracingMiddleware", "ControlEventLogMiddleware", "FleetEventLogMiddleware"}
    assert names(stack, set()) == names(_get_middleware(), idle)
    assert names(logged, set()) == names(_get_middleware(), {"RuntimeTracingMiddleware"})
    assert {entry.kwargs["middleware"].cls.__name__ for entry in stack if entry.cls is PathScoped} \
        == set(SCOPED_MIDDLEWARE) - idle
    assert "ProtobufTranslationMiddleware" in names(stack, set())
