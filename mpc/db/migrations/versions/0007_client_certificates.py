"""client_certificates, revoked_certificates: AUTH_TYPE=cert

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00

A client certificate's subject maps to a principal (name, role, node id), as an API token does;
revocation is by serial number.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_certificates",
        sa.Column("subject", sa.String(length=512), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "revoked_certificates",
        sa.Column("serial", sa.String(length=64), primary_key=True),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("revoked_certificates")
    op.drop_table("client_certificates")
