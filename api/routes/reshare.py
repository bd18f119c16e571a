"""Refresh and reshare: `POST /v1/keys/{id}/refresh` and `/reshare`, 202 with a session (`?wait=true` blocks);
`POST /v1/keys/{id}/recover`: a key recovered from escrow enters a new committee (sent by `mpc recover`);
`PUT /v1/keys/{id}/refresh-schedule`: a refresh every so often, on a Temporal Schedule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.links import session_links
from api.operations import Caller
from api.operations import lifecycle as operations
from api.operations.lifecycle import RefreshSchedule, RefreshSchedulePublic
from api.recover import RecoverCreate
from api.reshare import RefreshCreate, ReshareCreate
from api.schemas import SessionPublic

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
    outcome = await operations.change_shares(Caller(state, db, principal), key_id, body,
                                             idempotency_key=idempotency_key, wait=wait, timeout=timeout)
    return JSONResponse(outcome.body.model_dump(mode="json"), status_code=200 if outcome.finished else 202)


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


@router.put("/{key_id}/refresh-schedule", response_model=RefreshSchedulePublic, dependencies=[require_role("operator")],
            summary="Refresh the key every so often (a Temporal Schedule; null removes it)",
            responses=error_responses(400, 403, 409, 503, s409="the key is archived",
                                      s503="Temporal is unreachable; the schedule was not changed"))
async def put_refresh_schedule(key_id: str, body: RefreshSchedule, db: DbSession, state: State,
                               principal: CurrentPrincipal) -> RefreshSchedulePublic:
    return await operations.set_refresh_schedule(Caller(state, db, principal), key_id, body)
