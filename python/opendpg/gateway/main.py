"""Wiring only: settings → database (migrated) → key vault → chain, indexer, job poster and round evaluator →
routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import Counter, Histogram

from opendpg import __version__
from opendpg.config import Settings, load_settings, project_root
from opendpg.gateway.chain import connect_chain
from opendpg.gateway.db import make_engine, migrate, session_factory
from opendpg.gateway.deps import KeyCache
from opendpg.gateway.evaluator import RoundEvaluator
from opendpg.gateway.indexer import ChainIndexer
from opendpg.gateway.middleware import MetricsMiddleware, RateLimitMiddleware, metrics_registry
from opendpg.gateway.posting import JobPoster
from opendpg.gateway.routers import (
    accounts,
    api_keys,
    catalog,
    certification,
    funding,
    health,
    jobs,
    metrics,
    progress,
    webapp,
)
from opendpg.gateway.security import load_vault
from opendpg.gateway.submissions import SubmissionWriter, recover_submissions

__all__ = ["create_app", "database_url"]


def database_url(settings: Settings) -> str:
    if settings.gateway_db_url:
        return settings.gateway_db_url
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.state_dir / 'gateway.db').resolve()}"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The indexer and the job poster run beside the app when a chain is configured."""
    chain = app.state.chain
    if chain is not None:
        settings, registry = app.state.settings, app.state.metrics
        corrections = Counter("opendpg_gateway_index_corrections_total",
                              "indexed fields the chain disagreed with (and won)", registry=registry)
        batches = Histogram("opendpg_gateway_post_batch_jobs", "jobs per posting batch", registry=registry,
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        indexer = ChainIndexer(chain.reader, app.state.sessions, poll_interval=settings.poll_interval,
                               reconcile_interval=settings.gateway_reconcile_interval,
                               on_correction=corrections.inc)
        indexer.step()  # catch up before serving, so reads start complete
        app.state.indexer = indexer.start()
        app.state.poster = JobPoster(chain, indexer, app.state.sessions, max_batch=settings.gateway_batch_max,
                                     on_batch=batches.observe).start()
        app.state.submissions = SubmissionWriter(app.state.sessions).start()
        for request in recover_submissions(app.state.sessions):  # accepted with a 202 before a restart
            app.state.poster.submit(request)
        app.state.evaluator = RoundEvaluator(app.state.sessions, chain.store,
                                             base_models=settings.state_dir / "base-models").start()
    try:
        yield
    finally:
        if chain is not None:
            app.state.submissions.stop()
            app.state.poster.stop()
            app.state.evaluator.stop()
            app.state.indexer.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    url = database_url(settings)
    migrate(url)
    app = FastAPI(title="OpenDPG Compute gateway", version=__version__, lifespan=_lifespan,
                  description="Post and follow federated training jobs without a wallet; the chain stays the "
                              "source of truth.")
    app.state.engine = make_engine(url)
    app.state.sessions = session_factory(app.state.engine)
    app.state.settings = settings
    app.state.vault = load_vault(settings)
    app.state.keys = KeyCache()
    app.state.chain = connect_chain(settings, app.state.vault)
    for module in (health, metrics, accounts, api_keys, funding, jobs, progress, catalog, certification, webapp):
        app.include_router(module.router)
    frontend = settings.gateway_frontend_dir or project_root() / "frontend" / "dist"
    if (frontend / "index.html").is_file():  # the built web app: `make frontend` (make demo and make test build it)
        app.mount("/app", StaticFiles(directory=frontend, html=True), name="app")
    registry, requests, latency = metrics_registry()
    app.state.metrics = registry
    app.add_middleware(MetricsMiddleware, requests=requests, latency=latency)
    app.add_middleware(RateLimitMiddleware, per_minute=settings.gateway_rate_limit)
    return app
