"""Refresh and reshare: `POST /v1/keys/{id}/refresh` and `/reshare`, 202 with a session (`?wait=true` blocks)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError
from api.reshare import RefreshCreate, ReshareCreate, start_change
from api.views import session_view
from mpc.db.models import SigningSession

router = APIRouter(prefix="/v1/keys", tags=["keys"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Wait = Annotated[bool, Query(description="block until the session completes or fails")]
WaitTimeout = Annotated[float | None, Query(gt=0, le=600, description="seconds to wait (default SESSION_TIMEOUT)")]


async def _start(key_id: str, body: ReshareCreate | RefreshCreate, db: DbSession, state: State,
                 principal: CurrentPrincipal, idempotency_key: str | None, wait: bool,
                 timeout: float | None) -> JSONResponse:
    started = await start_change(db, state.temporal, state.settings, principal, key_id, body, idempotency_key,
                                 signer=state.intent_signer)
    if wait and started.handle is not None:
        try:
            await asyncio.wait_for(started.handle.result(), timeout or state.settings.session_timeout)
        except WorkflowFailureError:
            pass  # the session row says why
        except TimeoutError:
            raise ApiError(504, "wait_timeout", f"session {started.session_id} still running; poll "
                                                f"/v1/sessions/{started.session_id}") from None
    db.expire_all()
    row = await db.get(SigningSession, started.session_id)
    if row is None:  # pragma: no cover - committed before the workflow started
        raise ApiError(500, "internal", "session row missing")
    done = row.status in ("completed", "failed")
    return JSONResponse(session_view(row).model_dump(mode="json"), status_code=200 if done and wait else 202)


@router.post("/{key_id}/reshare", status_code=202, dependencies=[require_role("operator")],
             summary="Move the key to a new committee and/or threshold (same public key and address)")
async def reshare_key(key_id: str, body: ReshareCreate, db: DbSession, state: State, principal: CurrentPrincipal,
                      idempotency_key: IdempotencyKey = None, wait: Wait = False,
                      timeout: WaitTimeout = None) -> JSONResponse:
    return await _start(key_id, body, db, state, principal, idempotency_key, wait, timeout)


@router.post("/{key_id}/refresh", status_code=202, dependencies=[require_role("operator")],
             summary="New shares for the same committee and threshold (proactive security)")
async def refresh_key(key_id: str, db: DbSession, state: State, principal: CurrentPrincipal,
                      body: RefreshCreate | None = None, idempotency_key: IdempotencyKey = None, wait: Wait = False,
                      timeout: WaitTimeout = None) -> JSONResponse:
    return await _start(key_id, body or RefreshCreate(), db, state, principal, idempotency_key, wait, timeout)
