"""signing_sessions.message_hashes and .signatures: batch signing

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 10:00:00

A batch request (`digests`) signs up to 256 digests in one session; the session keeps them and their
signatures in request order. Single-digest sessions keep using `message_hash` and `signature`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("signing_sessions", sa.Column("message_hashes", _JSON, nullable=True))
    op.add_column("signing_sessions", sa.Column("signatures", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("signing_sessions", "signatures")
    op.drop_column("signing_sessions", "message_hashes")
