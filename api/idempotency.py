"""Idempotency-Key answers from Redis (a cache: the workflow id is the real guard).

The Redis entry is keyed by the workflow id the request would start (`workflow_id_for`), so the
cache and Temporal's own duplicate check always agree on what counts as "the same request".
"""

from __future__ import annotations

import contextlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

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
