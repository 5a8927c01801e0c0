from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

from opendpg.gateway.deps import SessionDep
from opendpg.gateway.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(session: SessionDep) -> Health:
    try:
        session.execute(text("SELECT 1"))
    except Exception:
        raise HTTPException(503, detail="database unreachable") from None
    return Health(status="ok", database=session.get_bind().dialect.name)
