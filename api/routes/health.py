"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from api.deps import State
from api.metrics import REGISTRY, SESSIONS_BY_STATE
from api.schemas import ReadyStatus
from mpc.db.models import SigningSession
from mpc.protocols import SessionStatus

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 3.0


@router.get("/health", summary="Process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(state: State) -> None:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis(state: State) -> None:
    await state.redis.ping()


async def _check_temporal(state: State) -> None:
    client = await state.temporal()
    if not await client.service_client.check_health():
        raise RuntimeError("not serving")


async def _check_vault(state: State) -> None:
    if not state.settings.vault_addr:
        return
    async with httpx.AsyncClient(base_url=state.settings.vault_addr, timeout=CHECK_TIMEOUT) as client:
        reply = await client.get("/v1/sys/health")
    if reply.status_code != 200:
        raise RuntimeError("sealed" if reply.status_code == 503 else f"status {reply.status_code}")


@router.get("/ready", summary="Database, Redis, Temporal and Vault reachable", response_model=ReadyStatus,
            responses={503: {"model": ReadyStatus, "description": "a dependency is unavailable (`checks` says which)"}})
async def ready(state: State) -> JSONResponse:
    checks = {"database": _check_database, "redis": _check_redis, "temporal": _check_temporal, "vault": _check_vault}

    async def run(check) -> str:
        try:
            await asyncio.wait_for(check(state), CHECK_TIMEOUT)
            return "ok"
        except Exception as exc:  # any failure is "not ready"; the type says why
            return f"unavailable: {type(exc).__name__}" + (f" ({exc})" if str(exc) and len(str(exc)) < 120 else "")

    results = dict(zip(checks, await asyncio.gather(*(run(c) for c in checks.values())), strict=True))
    failing = [name for name, result in results.items() if result != "ok"]
    body = {"status": "ready" if not failing else "not_ready", "checks": results}
    if failing:
        body["error"] = {"code": "not_ready", "message": f"unavailable: {', '.join(failing)}"}
    return JSONResponse(body, status_code=503 if failing else 200)


async def refresh_session_gauges(state: State) -> None:
    """mpc_sessions_by_state from the database, so sessions that nobody waited for are counted too."""
    async with state.sessions() as db:
        rows = (await db.execute(select(SigningSession.status, func.count()).group_by(SigningSession.status))).all()
    counts = {str(status): int(n) for status, n in rows}
    for status in {*(s.value for s in SessionStatus), *counts}:
        SESSIONS_BY_STATE.labels(status).set(counts.get(status, 0))


async def refresh_backup_gauges(state: State) -> None:
    from api.backups import BACKUP_GAUGES

    async with state.sessions() as db:
        await BACKUP_GAUGES.refresh(db)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(state: State) -> Response:
    from api.routes.nodes import refresh_node_gauges

    # Metrics must still be served when the database is down.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(refresh_node_gauges(state), CHECK_TIMEOUT)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(refresh_session_gauges(state), CHECK_TIMEOUT)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(refresh_backup_gauges(state), CHECK_TIMEOUT)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
