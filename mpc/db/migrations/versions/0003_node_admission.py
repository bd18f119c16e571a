"""node admission, node-bound tokens, monotonic heartbeats

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 21:15:00

Nodes registered before this revision are taken as admitted (they already serve keys); every node
that registers afterwards starts `pending` until an admin approves it (DESIGN.md "Node admission").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("nodes", sa.Column("admission", sa.String(length=16), server_default="admitted", nullable=False))
    op.alter_column("nodes", "admission", server_default="pending")
    op.add_column("nodes", sa.Column("heartbeat_timestamp", sa.Float(), nullable=True))
    op.create_index("ix_nodes_admission", "nodes", ["admission"], unique=False)
    op.add_column("api_tokens", sa.Column("node_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("api_tokens", "node_id")
    op.drop_index("ix_nodes_admission", table_name="nodes")
    op.drop_column("nodes", "heartbeat_timestamp")
    op.drop_column("nodes", "admission")
