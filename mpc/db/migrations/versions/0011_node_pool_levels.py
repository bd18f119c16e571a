"""nodes.pool_levels: one-time secrets ready on each participant, by pool

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00

Each participant's signed heartbeat reports how many pre-parameter sets, FROST nonces and GG20
presignatures it holds (issue 12 part 5); `GET /v1/nodes` and `mpc nodes list` show them. NULL until
the node's first heartbeat that reports them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("nodes", sa.Column("pool_levels", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("nodes", "pool_levels")
