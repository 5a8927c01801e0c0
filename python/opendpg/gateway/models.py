"""Database rows. Private keys are stored only encrypted (``encrypted_key``); API keys only as SHA-256."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "INDEX_TABLES",
    "ApiKey",
    "Base",
    "ChainJob",
    "ChainPayment",
    "ChainProvider",
    "ChainRound",
    "ChainUpdate",
    "IndexState",
    "JobSubmission",
    "User",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    address: Mapped[str] = mapped_column(String(42), unique=True)
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="user")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user: Mapped[User] = relationship(back_populates="api_keys")


class JobSubmission(Base):
    """A job accepted for posting (``Prefer: respond-async``): written before the 202, so an accepted job is
    never lost. ``queued`` → ``sending`` (its transaction is about to go out) → ``posted`` (``job_id``) or
    ``failed`` (``error``: the reason, as the 4xx detail a waiting request would have had)."""

    __tablename__ = "job_submissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[bytes] = mapped_column(LargeBinary)
    spec_cid: Mapped[str] = mapped_column(String(128))
    reward_per_round: Mapped[str] = mapped_column(String(78))
    required_stake: Mapped[str] = mapped_column(String(78))
    rounds: Mapped[int] = mapped_column(Integer)
    min_providers: Mapped[int] = mapped_column(Integer)
    max_providers: Mapped[int] = mapped_column(Integer)
    join_window_s: Mapped[int] = mapped_column(Integer)
    round_timeout_s: Mapped[int] = mapped_column(Integer)
    coordinator: Mapped[str] = mapped_column(String(42))
    chain_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the `now` its deadline counts from
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---------------------------------------------------------------------- the chain index (written only by the indexer)

Wei = String(78)  # token amounts in wei as decimal text: uint256 fits, on SQLite and PostgreSQL alike


class IndexState(Base):
    """How far the indexer got: the last event applied (block, log index) and that block's hash (reorgs)."""

    __tablename__ = "index_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    block_hash: Mapped[str] = mapped_column(String(66))


class ChainJob(Base):
    """A job as the chain has it: the ``JobPosted`` parameters, and state, rounds and credit from ``getJob``."""

    __tablename__ = "chain_jobs"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    poster: Mapped[str] = mapped_column(String(42), index=True)
    coordinator: Mapped[str] = mapped_column(String(42), index=True)
    spec_cid: Mapped[str] = mapped_column(String(128))
    payment_token: Mapped[str] = mapped_column(String(42))
    budget: Mapped[str] = mapped_column(Wei)
    reward_per_round: Mapped[str] = mapped_column(Wei)
    required_stake: Mapped[str] = mapped_column(Wei)
    rounds: Mapped[int] = mapped_column(Integer)
    min_providers: Mapped[int] = mapped_column(Integer)
    max_providers: Mapped[int] = mapped_column(Integer)
    join_deadline: Mapped[int] = mapped_column(BigInteger)
    round_timeout: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    committed_rounds: Mapped[int] = mapped_column(Integer, default=0)
    credited: Mapped[str] = mapped_column(Wei, default="0")
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class ChainProvider(Base):
    __tablename__ = "chain_job_providers"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer)
    stake_locked: Mapped[str] = mapped_column(Wei)
    dropped: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_rounds: Mapped[int] = mapped_column(Integer, default=0)
    block_number: Mapped[int] = mapped_column(BigInteger)


class ChainUpdate(Base):
    __tablename__ = "chain_job_updates"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider: Mapped[str] = mapped_column(String(42), primary_key=True)
    update_hash: Mapped[str] = mapped_column(String(64))
    cid: Mapped[str] = mapped_column(String(128))
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    block_number: Mapped[int] = mapped_column(BigInteger)


class ChainRound(Base):
    """A committed round; ``loss``/``accuracy`` are the gateway's own evaluation of the committed model on the
    spec's held-out set (filled in after indexing; ``metrics_error`` says why they could not be)."""

    __tablename__ = "chain_job_rounds"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    global_hash: Mapped[str] = mapped_column(String(64))
    global_cid: Mapped[str] = mapped_column(String(128))
    used_bitmap: Mapped[str] = mapped_column(Wei)
    block_number: Mapped[int] = mapped_column(BigInteger)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ChainPayment(Base):
    __tablename__ = "chain_job_payments"

    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    job_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(Wei)
    block_number: Mapped[int] = mapped_column(BigInteger)


INDEX_TABLES = (ChainJob, ChainProvider, ChainUpdate, ChainRound, ChainPayment)
