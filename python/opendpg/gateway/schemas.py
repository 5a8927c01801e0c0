"""Request and response bodies (layered: what comes in is never what is stored or what goes out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyOut", "Health", "Login", "SignUp", "Token", "UserOut"]

Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, StringConstraints(min_length=12, max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUp(_In):
    email: Email = Field(description="login name; also where the account is reached")
    password: Password = Field(description="12 characters or more")


class Login(_In):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ApiKeyCreate(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: str
    address: str = Field(description="the account's own on-chain address: its jobs are attributable to it")
    created_at: datetime


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once; send it as `Authorization: Bearer <key>`")


class Token(BaseModel):
    token: str = Field(description="an API key for this session; send it as `Authorization: Bearer <token>`")
    key_id: int


class Health(BaseModel):
    status: str
    database: str
