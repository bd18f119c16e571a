"""backups and node_nonce_epochs: backup sets, and each node's nonce-epoch counter kept off its disk

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 10:00:00

`backups` records each set of the BackupWorkflow (status, signed manifest, size, duration);
`node_nonce_epochs` holds the token a restore sets per node, which makes that node bump its nonce epoch
before it serves any round (SECURITY.md N4).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("backup_id", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("workflow_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("manifest", JSONB, nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
        sa.Column("signed_by", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("file_count", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", JSONB, nullable=True),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_backups_status", "backups", ["status"])
    op.create_index("ix_backups_created_at", "backups", ["created_at"])
    op.create_table(
        "node_nonce_epochs",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_nonce_epochs")
    op.drop_index("ix_backups_created_at", table_name="backups")
    op.drop_index("ix_backups_status", table_name="backups")
    op.drop_table("backups")
