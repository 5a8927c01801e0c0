"""the chain index: jobs, providers, updates, rounds and payments as the chain has them (replaces the
gateway's own job table: a job belongs to the account whose address posted it)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WEI = sa.String(78)


def upgrade() -> None:
    op.drop_table("jobs")
    op.create_table(
        "index_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
    )
    op.create_table(
        "chain_jobs",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("poster", sa.String(42), nullable=False, index=True),
        sa.Column("coordinator", sa.String(42), nullable=False, index=True),
        sa.Column("spec_cid", sa.String(128), nullable=False),
        sa.Column("payment_token", sa.String(42), nullable=False),
        sa.Column("budget", WEI, nullable=False),
        sa.Column("reward_per_round", WEI, nullable=False),
        sa.Column("required_stake", WEI, nullable=False),
        sa.Column("rounds", sa.Integer, nullable=False),
        sa.Column("min_providers", sa.Integer, nullable=False),
        sa.Column("max_providers", sa.Integer, nullable=False),
        sa.Column("join_deadline", sa.BigInteger, nullable=False),
        sa.Column("round_timeout", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("committed_rounds", sa.Integer, nullable=False),
        sa.Column("credited", WEI, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("updated_block", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "chain_job_providers",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("stake_locked", WEI, nullable=False),
        sa.Column("dropped", sa.Boolean, nullable=False),
        sa.Column("missed_rounds", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "chain_job_updates",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("provider", sa.String(42), primary_key=True),
        sa.Column("update_hash", sa.String(64), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("rejected", sa.Boolean, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "chain_job_rounds",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("global_hash", sa.String(64), nullable=False),
        sa.Column("global_cid", sa.String(128), nullable=False),
        sa.Column("used_bitmap", WEI, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("loss", sa.Float, nullable=True),
        sa.Column("accuracy", sa.Float, nullable=True),
        sa.Column("metrics_error", sa.String(500), nullable=True),
    )
    op.create_table(
        "chain_job_payments",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("log_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("job_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("amount", WEI, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("chain_job_payments", "chain_job_rounds", "chain_job_updates", "chain_job_providers", "chain_jobs",
                  "index_state"):
        op.drop_table(table)
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("chain_job_id", sa.Integer, nullable=False, unique=True),
        sa.Column("spec_cid", sa.String(128), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
