"""nonce commitments pool

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:14:32.243534
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "nonce_commitments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("nonce_id", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("commitment", sa.String(length=200), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("claimed_session_id", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id", "commitment", name="uq_nonce_commitments_key_commitment"),
        sa.UniqueConstraint("node_id", "nonce_id", name="uq_nonce_commitments_node_nonce"),
    )
    op.create_index(
        "ix_nonce_commitments_available", "nonce_commitments", ["key_id", "node_id", "claimed_session_id"], unique=False
    )


def downgrade() -> None:

    op.drop_index("ix_nonce_commitments_available", table_name="nonce_commitments")
    op.drop_table("nonce_commitments")
