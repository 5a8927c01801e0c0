"""Per-key rate limits (token bucket; per client address without a key) and Prometheus request metrics.
Neither ever records a key or a body: limits are keyed by the key's SHA-256 prefix."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

__all__ = ["MetricsMiddleware", "RateLimitMiddleware", "metrics_registry"]


class RateLimitMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        super().__init__(app)
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _who(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return "key:" + hashlib.sha256(auth[7:].encode()).hexdigest()[:16]
        return "ip:" + (request.client.host if request.client else "?")

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        who, now = self._who(request), time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[who] = (tokens - 1.0 if allowed else tokens, now)
        if not allowed:
            retry = max(1, int((1.0 - tokens) / self.rate) + 1)
            return JSONResponse({"detail": f"rate limit: {int(self.capacity)} requests per minute per key; "
                                           f"retry in {retry} s"}, status_code=429, headers={"Retry-After": str(retry)})
        return await call_next(request)


def metrics_registry() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry()
    requests = Counter("opendpg_gateway_requests_total", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("opendpg_gateway_request_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry)
    return registry, requests, latency


class MetricsMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        super().__init__(app)
        self.requests = requests
        self.latency = latency

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")  # the template (/jobs/{job_id}), never the raw path
        self.requests.labels(request.method, path, str(response.status_code)).inc()
        self.latency.labels(request.method, path).observe(time.perf_counter() - started)
        return response
