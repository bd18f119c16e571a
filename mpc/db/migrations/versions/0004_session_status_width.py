"""session status wide enough for awaiting_approval

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:30:00

A signing session that needs human approvals waits in status `awaiting_approval` (17 characters).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("signing_sessions", "status", type_=sa.String(length=32), existing_type=sa.String(length=16),
                    existing_nullable=False)


def downgrade() -> None:
    op.alter_column("signing_sessions", "status", type_=sa.String(length=16), existing_type=sa.String(length=32),
                    existing_nullable=False)
