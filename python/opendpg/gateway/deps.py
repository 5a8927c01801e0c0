"""Named dependencies: the database session (``SessionDep``) and the caller (``CurrentUser``, ``OperatorUser``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendpg.config import Settings
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.indexer import ChainIndexer
from opendpg.gateway.models import ApiKey, User, utcnow
from opendpg.gateway.posting import JobPoster
from opendpg.gateway.security import KeyVault, same_hash, split_api_key

__all__ = [
    "ChainDep",
    "CurrentUser",
    "IndexerDep",
    "KeyCache",
    "OperatorUser",
    "PosterDep",
    "SessionDep",
    "SettingsDep",
    "VaultDep",
]

_bearer = HTTPBearer(auto_error=False, description="an API key (`odpg_...`) from /api-keys or /auth/login")


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


async def _vault(request: Request) -> KeyVault:
    vault: KeyVault = request.app.state.vault
    return vault


async def _chain(request: Request) -> GatewayChain:
    chain: GatewayChain | None = request.app.state.chain
    if chain is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="this gateway is not connected to a chain (OPENDPG_RPC_URL is unset)")
    return chain


async def _indexer(request: Request) -> ChainIndexer:
    await _chain(request)
    indexer: ChainIndexer = request.app.state.indexer
    return indexer


async def _poster(request: Request) -> JobPoster:
    await _chain(request)
    poster: JobPoster = request.app.state.poster
    return poster


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(_session)]
ChainDep = Annotated[GatewayChain, Depends(_chain)]
SettingsDep = Annotated[Settings, Depends(_settings)]
VaultDep = Annotated[KeyVault, Depends(_vault)]
IndexerDep = Annotated[ChainIndexer, Depends(_indexer)]
PosterDep = Annotated[JobPoster, Depends(_poster)]

_UNAUTHORIZED = HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing, unknown or revoked API key",
                              headers={"WWW-Authenticate": "Bearer"})


class KeyCache:
    """Known API keys by their SHA-256 (the user, detached): a request with a known key touches no database.
    Revoking a key forgets it here at once; ``last_used_at`` is written at most once a minute per key."""

    TOUCH_EVERY = 60.0

    def __init__(self) -> None:
        self._known: dict[str, tuple[User, int, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[User, int, float] | None:
        return self._known.get(digest)

    def put(self, digest: str, user: User, key_id: int, touched: float) -> None:
        with self._lock:
            self._known[digest] = (user, key_id, touched)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._known.pop(digest, None)


def _lookup(request: Request, prefix: str, digest: str) -> User:
    """The key's user from the database (its own short session: the request does not hold a connection)."""
    with request.app.state.sessions() as session:
        for key in session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))):
            if same_hash(key.key_hash, digest):
                key.last_used_at = utcnow()
                user: User = key.user
                session.commit()
                session.expunge(user)
                request.app.state.keys.put(digest, user, key.id, time.monotonic())
                return user
    raise _UNAUTHORIZED


async def _current_user(request: Request,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> User:
    """A known key costs no database access and no thread hop; an unknown one is looked up in a worker thread."""
    if credentials is None:
        raise _UNAUTHORIZED
    prefix, digest = split_api_key(credentials.credentials)
    cache: KeyCache = request.app.state.keys
    known = cache.get(digest)
    if known is None or time.monotonic() - known[2] > KeyCache.TOUCH_EVERY:
        return await run_in_threadpool(_lookup, request, prefix, digest)
    return known[0]


CurrentUser = Annotated[User, Depends(_current_user)]


async def _operator(user: CurrentUser) -> User:
    if user.role != "operator":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the operator role")
    return user


OperatorUser = Annotated[User, Depends(_operator)]
