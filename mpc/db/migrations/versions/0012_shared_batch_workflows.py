"""signing_sessions.workflow_id: unique except for coalesced sign requests' shared batch workflow

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:00:00

Sign requests of one key and caller that wait behind running sessions start as one batch workflow
(api/coalesce.py, issue 12); each keeps its own session row, and those rows name the batch's workflow
(`sign-batch-…`). Every other workflow id stays unique: an Idempotency-Key's concurrent repeat still
fails its insert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHARED = "workflow_id NOT LIKE 'sign-batch-%'"


def upgrade() -> None:
    op.drop_constraint("signing_sessions_workflow_id_key", "signing_sessions", type_="unique")
    op.create_index("uq_signing_sessions_workflow_id", "signing_sessions", ["workflow_id"], unique=True,
                    postgresql_where=sa.text(_SHARED))
    op.create_index("ix_signing_sessions_workflow_id", "signing_sessions", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_signing_sessions_workflow_id", table_name="signing_sessions")
    op.drop_index("uq_signing_sessions_workflow_id", table_name="signing_sessions")
    op.create_unique_constraint("signing_sessions_workflow_id_key", "signing_sessions", ["workflow_id"])
