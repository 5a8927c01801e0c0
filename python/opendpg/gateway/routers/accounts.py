"""Sign-up, login and the caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from opendpg.gateway.deps import CurrentUser, SessionDep, VaultDep
from opendpg.gateway.models import ApiKey, User
from opendpg.gateway.schemas import Login, SignUp, Token, UserOut
from opendpg.gateway.security import hash_password, new_api_key, verify_password

router = APIRouter(tags=["accounts"])


@router.post("/accounts", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def sign_up(body: SignUp, session: SessionDep, vault: VaultDep) -> User:
    """Create an account with its own on-chain address (its key is kept encrypted)."""
    address, encrypted = vault.new_account()
    user = User(email=body.email, password_hash=hash_password(body.password), address=address,
                encrypted_key=encrypted)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=[{"loc": ["body", "email"], "msg": "already registered: log in instead"}]) from None
    return user


@router.post("/auth/login", response_model=Token)
def login(body: Login, session: SessionDep) -> Token:
    """Exchange email and password for an API key named ``login``."""
    user = session.scalar(select(User).where(User.email == body.email))
    if user is None or not verify_password(user.password_hash, body.password):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong email or password")
    key, prefix, digest = new_api_key()
    row = ApiKey(user_id=user.id, name="login", prefix=prefix, key_hash=digest)
    session.add(row)
    session.commit()
    return Token(token=key, key_id=row.id)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    return user
