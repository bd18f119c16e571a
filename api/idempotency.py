"""Idempotency-Key answers from Redis (a cache: the workflow id is the real guard)."""

from __future__ import annotations

import contextlib
import hashlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.auth import Principal

log = logging.getLogger("mpc.api.idempotency")
TTL_SECONDS = 24 * 3600


def _key(principal: Principal, operation: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{principal.token_id}\x00{operation}\x00{idempotency_key}".encode()).hexdigest()
    return f"mpc:idem:{digest}"


async def remembered_session(redis: aioredis.Redis, principal: Principal, operation: str,
                             idempotency_key: str | None) -> str | None:
    if not idempotency_key:
        return None
    try:
        value = await redis.get(_key(principal, operation, idempotency_key))
    except RedisError:
        log.warning("redis unavailable for idempotency lookup")
        return None
    if not value:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


async def remember_session(redis: aioredis.Redis, principal: Principal, operation: str, idempotency_key: str | None,
                           session_id: str) -> None:
    if not idempotency_key:
        return
    with contextlib.suppress(RedisError):
        await redis.set(_key(principal, operation, idempotency_key), session_id, ex=TTL_SECONDS, nx=True)
