"""gg20_presignatures: the GG20 presignature pool

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:30:00

Presignatures made ahead of sign requests, per key, epoch and signer set: public id and R only (each
signer keeps its secret part sealed on its own disk). A GG20 sign claims one and runs only the online round.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gg20_presignatures",
        sa.Column("presig_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("signer_set", sa.String(length=512), nullable=False),
        sa.Column("big_r", sa.String(length=66), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("claimed_session_id", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["keys.key_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("presig_id"),
    )
    op.create_index("ix_gg20_presignatures_available", "gg20_presignatures",
                    ["key_id", "signer_set", "claimed_session_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_gg20_presignatures_available", table_name="gg20_presignatures")
    op.drop_table("gg20_presignatures")
