"""Wiring only: settings → database (migrated) → key vault → routers."""

from __future__ import annotations

from fastapi import FastAPI

from opendpg import __version__
from opendpg.config import Settings, load_settings
from opendpg.gateway.chain import connect_chain
from opendpg.gateway.db import make_engine, migrate, session_factory
from opendpg.gateway.middleware import MetricsMiddleware, RateLimitMiddleware, metrics_registry
from opendpg.gateway.routers import accounts, api_keys, catalog, funding, health, jobs, metrics, progress
from opendpg.gateway.security import load_vault

__all__ = ["create_app", "database_url"]


def database_url(settings: Settings) -> str:
    if settings.gateway_db_url:
        return settings.gateway_db_url
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.state_dir / 'gateway.db').resolve()}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    url = database_url(settings)
    migrate(url)
    app = FastAPI(title="OpenDPG Compute gateway", version=__version__,
                  description="Post and follow federated training jobs without a wallet; the chain stays the "
                              "source of truth.")
    app.state.engine = make_engine(url)
    app.state.sessions = session_factory(app.state.engine)
    app.state.settings = settings
    app.state.vault = load_vault(settings)
    app.state.chain = connect_chain(settings, app.state.vault)
    for module in (health, metrics, accounts, api_keys, funding, jobs, progress, catalog):
        app.include_router(module.router)
    registry, requests, latency = metrics_registry()
    app.state.metrics = registry
    app.add_middleware(MetricsMiddleware, requests=requests, latency=latency)
    app.add_middleware(RateLimitMiddleware, per_minute=settings.gateway_rate_limit)
    return app
