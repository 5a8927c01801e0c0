"""The caller's API keys: create (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select

from opendpg.gateway.deps import CurrentUser, SessionDep
from opendpg.gateway.models import ApiKey, utcnow
from opendpg.gateway.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from opendpg.gateway.security import new_api_key

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, user: CurrentUser, session: SessionDep) -> ApiKeyCreated:
    key, prefix, digest = new_api_key()
    row = ApiKey(user_id=user.id, name=body.name, prefix=prefix, key_hash=digest)
    session.add(row)
    session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": key})


@router.get("", response_model=list[ApiKeyOut])
def list_keys(user: CurrentUser, session: SessionDep) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)))


@router.delete("/{key_id}", response_model=ApiKeyOut)
def revoke_key(key_id: int, user: CurrentUser, session: SessionDep, request: Request) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != user.id:  # another user's key is as unknown as a missing one
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=[{"loc": ["path", "key_id"], "msg": "no such key"}])
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    request.app.state.keys.forget(row.key_hash)  # refused from the next request on
    return row
