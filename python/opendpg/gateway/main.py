"""Wiring only: settings → database (migrated) → key vault → routers."""

from __future__ import annotations

from fastapi import FastAPI

from opendpg import __version__
from opendpg.config import Settings, load_settings
from opendpg.gateway.chain import connect_chain
from opendpg.gateway.db import make_engine, migrate, session_factory
from opendpg.gateway.routers import accounts, api_keys, funding, health, jobs
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
    for module in (health, accounts, api_keys, funding, jobs):
        app.include_router(module.router)
    return app
