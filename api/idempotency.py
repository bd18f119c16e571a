"""Idempotency-Key answers from Redis (a cache: the workflow id is the real guard).

The Redis entry is keyed by the workflow id the request would start (`workflow_id_for`), so the
cache and Temporal's own duplicate check always agree on what counts as "the same request".

A key is bound to its request body too (SECURITY.md A6): the accepted audit entry, written in the
same transaction as the session row, holds `request_fingerprint` (SHA-256 of the body's canonical
JSON), and a repeat whose body differs is refused with 422 `idempotency_key_reused`: a retry with
another digest must never be answered with a signature over the first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from mpc.db.models import AuditLog, SigningSession

log = logging.getLogger("mpc.api.idempotency")
TTL_SECONDS = 24 * 3600


def _key(workflow_id: str) -> str:
    return f"mpc:idem:{workflow_id}"


async def remembered_session(redis: aioredis.Redis, workflow_id: str | None) -> str | None:
    if not workflow_id:
        return None
    try:
        value = await redis.get(_key(workflow_id))
    except RedisError:
        log.warning("redis unavailable for idempotency lookup")
        return None
    if not value:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


async def remember_session(redis: aioredis.Redis, workflow_id: str | None, session_id: str) -> None:
    if not workflow_id:
        return
    with contextlib.suppress(RedisError):
        await redis.set(_key(workflow_id), session_id, ex=TTL_SECONDS, nx=True)


FINGERPRINT = "request_fingerprint"
"""The accepted audit entry's details field holding the request's fingerprint."""


def request_fingerprint(body: BaseModel) -> str:
    """SHA-256 of the validated body as canonical JSON (sorted keys, no spaces, defaults filled in), so
    two bodies that mean the same request match whatever their key order or spacing."""
    data = body.model_dump(mode="json")
    for name in getattr(body, "FINGERPRINT_OMIT_NONE", ()):  # fields added later: unset, they change nothing
        if data.get(name) is None:
            data.pop(name, None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def refuse_changed_request(db: AsyncSession, session: SigningSession, body: BaseModel) -> None:
    """Raise 422 `idempotency_key_reused` unless `body` is the request that started `session`.

    Sessions accepted before fingerprints were recorded have none; for them a sign request's digest
    (the session's `message_hash`) is still compared, so a repeat never returns another digest's signature.
    """
    digest = getattr(body, "digest", None)
    if digest is not None and session.message_hash is not None and session.message_hash != digest:
        raise _reused()
    rows = (await db.execute(select(AuditLog.details).where(AuditLog.session_id == session.session_id,
                                                            AuditLog.status == "accepted"))).scalars().all()
    stored = [d[FINGERPRINT] for d in rows if isinstance(d, dict) and d.get(FINGERPRINT)]
    if stored and request_fingerprint(body) not in stored:
        raise _reused()


def _reused() -> ApiError:
    return ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request body; "
                                                   "use a new key for a new request")
