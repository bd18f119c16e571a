"""API tokens: random 32-byte bearer tokens, stored only as SHA-256 hashes, expiring after TOKEN_TTL.

Lookup is by hash, so a known and an unknown token cost the same work (one hash, one indexed
query); the final comparison uses `hmac.compare_digest` (SECURITY.md H4).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mpc.db.models import ApiToken

TOKEN_PREFIX = "mpc_"  # noqa: S105 - a public prefix, not a secret
ROLES = ("admin", "operator", "node", "viewer")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str


async def create_token(session: AsyncSession, *, name: str, role: str, ttl_seconds: float) -> tuple[str, ApiToken]:
    """Create a token; the plain value is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, role=role, token_hash=hash_token(token),
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_seconds),
    )
    session.add(row)
    await session.flush()
    return token, row


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    digest = hash_token(token)
    row = (await session.execute(select(ApiToken).where(ApiToken.token_hash == digest))).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    now = datetime.now(UTC)
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    return Principal(token_id=row.token_id, name=row.name, role=row.role)
