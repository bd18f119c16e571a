"""API tokens: random 32-byte bearer tokens, stored only as SHA-256 hashes, expiring after TOKEN_TTL.

Lookup is by hash, so a known and an unknown token cost the same work (one hash, one indexed
query); the final comparison uses `hmac.compare_digest` (SECURITY.md H4).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from api.schemas import NODE_ID_PATTERN
from mpc.db.models import ApiToken, AuditLog
from mpc.settings import AuthType, Settings

TOKEN_PREFIX = "mpc_"  # noqa: S105 - a public prefix, not a secret
ROLES = ("admin", "operator", "node", "viewer")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str
    node_id: str | None = None  # role `node`: the only node this principal may speak for


_NODE_ID = re.compile(NODE_ID_PATTERN)  # the one node-id rule of registration (api.schemas)


async def create_token(session: AsyncSession, *, name: str, role: str, ttl_seconds: float,
                       node_id: str | None = None) -> tuple[str, ApiToken]:
    """Create a token; the plain value is returned once and never stored.

    A `node` token is bound to one node id (SECURITY.md A4): it can register and heartbeat that node
    only, so one leaked node credential cannot register a sybil node or speak for another.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "node" and not node_id:
        raise ValueError("a node token needs the node id it is bound to (--node-id)")
    if role != "node" and node_id:
        raise ValueError("only node tokens are bound to a node id")
    if node_id is not None and not _NODE_ID.match(node_id):
        raise ValueError("node id: lower-case letters, digits and dashes, at most 63 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, role=role, token_hash=hash_token(token), node_id=node_id,
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
    return Principal(token_id=row.token_id, name=row.name, role=row.role, node_id=row.node_id)


async def revoke_token(session: AsyncSession, token_id: str, *, actor: str) -> ApiToken | None:
    """Revoke a token at once and audit it (idempotent); None when there is no such token. The caller commits."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    session.add(AuditLog(actor=actor, action="token.revoke", resource_type="token", resource_id=token_id,
                         details={"name": row.name, "role": row.role, "node_id": row.node_id}))
    return row


def check_role(principal: Principal, roles: tuple[str, ...]) -> None:
    """403 `forbidden` unless the principal has one of `roles` (admin may do everything); REST and gRPC alike."""
    if roles and principal.role not in roles and principal.role != "admin":
        raise ApiError(403, "forbidden", f"this call needs role {' or '.join(roles)}")


def bearer_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(scheme, credentials) of an `Authorization` value, as FastAPI's HTTPBearer splits it; None when absent."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    return (scheme, credentials) if scheme and credentials else None


async def resolve_principal(settings: Settings, session: AsyncSession, *, bearer: tuple[str, str] | None,
                            client_certificate: bytes | None) -> Principal:
    """Who is calling, by AUTH_TYPE: a bearer token (`token`), a client certificate (`cert`) or nobody (`none`).

    REST (api/deps.py) and gRPC (api/rpc/calls.py) both ask here, so the same credential is the same principal
    with the same role on both, and is refused with the same code.
    """
    if settings.auth_type == AuthType.NONE:
        return Principal(token_id="anonymous", name="anonymous", role="admin")  # noqa: S106
    if settings.auth_type == AuthType.CERT:
        from api.cert_auth import authenticate_certificate

        return await authenticate_certificate(session, client_certificate)
    if bearer is None or bearer[0].lower() != "bearer":
        raise ApiError(401, "unauthorized", "a bearer token is required")
    principal = await authenticate(session, bearer[1])
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or expired token")
    return principal
