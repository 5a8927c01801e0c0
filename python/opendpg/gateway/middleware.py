"""Per-key rate limits (token bucket; per client address without a key) and Prometheus request metrics.
Neither ever records a key or a body: limits are keyed by the key's SHA-256 prefix. Both are plain ASGI
middleware (no per-request task group or stream copies: they sit on every request of the hot path)."""

from __future__ import annotations

import hashlib
import json
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MetricsMiddleware", "RateLimitMiddleware", "metrics_registry"]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _who(self, scope: Scope) -> str:
        auth = _header(scope, b"authorization")
        if auth.lower().startswith("bearer "):
            return "key:" + hashlib.sha256(auth[7:].encode()).hexdigest()[:16]
        client = scope.get("client")
        return "ip:" + (client[0] if client else "?")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        who, now = self._who(scope), time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[who] = (tokens - 1.0 if allowed else tokens, now)
        if allowed:
            await self.app(scope, receive, send)
            return
        retry = max(1, int((1.0 - tokens) / self.rate) + 1)
        body = json.dumps({"detail": f"rate limit: {int(self.capacity)} requests per minute per key; "
                                     f"retry in {retry} s"}).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})


def metrics_registry() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry()
    requests = Counter("opendpg_gateway_requests_total", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("opendpg_gateway_request_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry)
    return registry, requests, latency


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")  # the template (/jobs/{job_id}), never the raw path
            self.requests.labels(scope["method"], path, str(status)).inc()
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - started)
