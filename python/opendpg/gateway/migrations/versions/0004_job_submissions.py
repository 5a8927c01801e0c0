"""job submissions: jobs accepted for posting with a 202, durable before the answer

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_submissions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("spec", sa.LargeBinary, nullable=False),
        sa.Column("spec_cid", sa.String(128), nullable=False),
        sa.Column("reward_per_round", sa.String(78), nullable=False),
        sa.Column("required_stake", sa.String(78), nullable=False),
        sa.Column("rounds", sa.Integer, nullable=False),
        sa.Column("min_providers", sa.Integer, nullable=False),
        sa.Column("max_providers", sa.Integer, nullable=False),
        sa.Column("join_window_s", sa.Integer, nullable=False),
        sa.Column("round_timeout_s", sa.Integer, nullable=False),
        sa.Column("coordinator", sa.String(42), nullable=False),
        sa.Column("chain_time", sa.BigInteger, nullable=True),
        sa.Column("job_id", sa.BigInteger, nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_submissions")
