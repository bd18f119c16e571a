"""Refresh and reshare: `POST /v1/keys/{id}/refresh` and `/reshare`, 202 with a session (`?wait=true` blocks);
`POST /v1/keys/{id}/recover`: a key recovered from escrow enters a new committee (sent by `mpc recover`);
`PUT /v1/keys/{id}/refresh-schedule`: a refresh every so often, on a Temporal Schedule."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowFailureError

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError, error_responses
from api.links import session_links
from api.recover import RecoverCreate, start_recovery
from api.refresh_schedule import MIN_EVERY_SECONDS, apply_refresh_schedule, schedule_id
from api.reshare import RefreshCreate, ReshareCreate, start_change
from api.schemas import SessionPublic
from api.views import session_view
from mpc.db.models import Key, SigningSession
from mpc.protocols import KEY_PROTOCOLS
from mpc.settings import parse_duration

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=error_responses(401, 404, 422))

_CHANGE: dict[str, Any] = {
    "status_code": 202, "response_model": SessionPublic, "dependencies": [require_role("operator")],
    "responses": {200: {"description": "with ?wait=true: the finished session (completed or failed)",
                        "model": SessionPublic},
                  202: {"description": "the session that changes the key's shares (still running with ?wait=true "
                                       "when the wait ran out)", "links": session_links()},
                  **error_responses(400, 403, 409, 503,
                                    s409="the key is not active, already being reshared, a node is not admitted or "
                                         "offline, or fewer than t old holders are online",
                                    s503="Temporal cannot start the workflow, or Vault cannot sign the intent; "
                                         "nothing was started or recorded")},
}

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Wait = Annotated[bool, Query(description="block until the session completes or fails")]
WaitTimeout = Annotated[float | None, Query(gt=0, le=600, description="seconds to wait (default SESSION_TIMEOUT)")]


async def _start(key_id: str, body: ReshareCreate | RefreshCreate | RecoverCreate, db: DbSession, state: State,
                 principal: CurrentPrincipal, idempotency_key: str | None, wait: bool,
                 timeout: float | None) -> JSONResponse:
    if isinstance(body, RecoverCreate):
        started = await start_recovery(db, state.temporal, state.settings, principal, key_id, body, idempotency_key,
                                       signer=state.intent_signer)
    else:
        started = await start_change(db, state.temporal, state.settings, principal, key_id, body, idempotency_key,
                                     signer=state.intent_signer)
    if wait and started.handle is not None:
        # A failed session's row says why; one still running after the wait is answered 202, as without it.
        with contextlib.suppress(WorkflowFailureError, TimeoutError):
            await asyncio.wait_for(started.handle.result(), timeout or state.settings.session_timeout)
    db.expire_all()
    row = await db.get(SigningSession, started.session_id)
    if row is None:  # pragma: no cover - committed before the workflow started
        raise ApiError(500, "internal", "session row missing")
    done = row.status in ("completed", "failed")
    return JSONResponse(session_view(row).model_dump(mode="json"), status_code=200 if done and wait else 202)


@router.post("/{key_id}/reshare", summary="Move the key to a new committee and/or threshold (same public key and "
                                          "address)", **_CHANGE)
async def reshare_key(key_id: str, body: ReshareCreate, db: DbSession, state: State, principal: CurrentPrincipal,
                      idempotency_key: IdempotencyKey = None, wait: Wait = False,
                      timeout: WaitTimeout = None) -> JSONResponse:
    return await _start(key_id, body, db, state, principal, idempotency_key, wait, timeout)


@router.post("/{key_id}/refresh", summary="New shares for the same committee and threshold (proactive security)",
             **_CHANGE)
async def refresh_key(key_id: str, db: DbSession, state: State, principal: CurrentPrincipal,
                      body: RefreshCreate | None = None, idempotency_key: IdempotencyKey = None, wait: Wait = False,
                      timeout: WaitTimeout = None) -> JSONResponse:
    return await _start(key_id, body or RefreshCreate(), db, state, principal, idempotency_key, wait, timeout)


@router.post("/{key_id}/recover", summary="Put a key recovered from escrow (mpc recover --from-escrow) in a new "
                                          "committee (same public key and address; FROST keys)",
             **{**_CHANGE, "dependencies": [require_role("admin")]})
async def recover_key(key_id: str, body: RecoverCreate, db: DbSession, state: State, principal: CurrentPrincipal,
                      idempotency_key: IdempotencyKey = None, wait: Wait = False,
                      timeout: WaitTimeout = None) -> JSONResponse:
    return await _start(key_id, body, db, state, principal, idempotency_key, wait, timeout)


class RefreshSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: str | None = Field(max_length=32, description='how often, e.g. "24h", "30m"; null removes the schedule')


class RefreshSchedulePublic(BaseModel):
    key_id: str
    schedule_id: str | None = Field(description="the Temporal Schedule (temporal schedule list), null when none")
    every_seconds: float | None


@router.put("/{key_id}/refresh-schedule", response_model=RefreshSchedulePublic, dependencies=[require_role("operator")],
            summary="Refresh the key every so often (a Temporal Schedule; null removes it)",
            responses=error_responses(400, 403, 409, 503, s409="the key is archived",
                                      s503="Temporal is unreachable; the schedule was not changed"))
async def put_refresh_schedule(key_id: str, body: RefreshSchedule, db: DbSession, state: State,
                               principal: CurrentPrincipal) -> RefreshSchedulePublic:
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    if key.status == "archived":
        raise ApiError(409, "key_not_active", f"key {key_id} is archived")
    if KEY_PROTOCOLS[key.protocol].refresh is None:
        raise ApiError(422, "protocol_not_available", f"refresh of {key.protocol} keys is not available")
    every: float | None = None
    if body.every is not None:
        try:
            every = parse_duration(body.every)
        except (ValueError, TypeError):
            raise ApiError(422, "invalid_value", 'every is a duration such as "24h" or "30m"', field="every") from None
        if every < MIN_EVERY_SECONDS:
            raise ApiError(422, "invalid_value", f"every must be at least {MIN_EVERY_SECONDS:g} s", field="every")
    await apply_refresh_schedule(db, state, key, every, principal.name)
    return RefreshSchedulePublic(key_id=key_id, schedule_id=schedule_id(key_id) if every else None,
                                 every_seconds=every)
