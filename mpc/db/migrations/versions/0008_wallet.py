"""signing_sessions.derivation_path and .transaction: BIP-32 children and chain transactions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00

A signing session may sign with a key's BIP-32 child (`derivation_path`, e.g. m/0/17) and may sign a
chain transaction (`transaction`: the chain, the transaction as the client sent it and the decoded
summary a reviewer reads); the API builds the session's `result` (the signed transaction) from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signing_sessions", sa.Column("derivation_path", sa.String(length=1024), nullable=True))
    op.add_column("signing_sessions", sa.Column(
        "transaction", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    op.drop_column("signing_sessions", "transaction")
    op.drop_column("signing_sessions", "derivation_path")
