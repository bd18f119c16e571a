"""nodes.metrics_url: where Prometheus scrapes a participant

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 10:00:00

Each node's signed registration carries the URL of its /metrics (METRICS_PORT); `GET /v1/nodes`
shows it. Nodes registered before this revision have none until they register again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("nodes", sa.Column("metrics_url", sa.String(length=256), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("nodes", "metrics_url")
