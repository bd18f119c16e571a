"""Keys: create (distributed keygen), list, show, and sign with a key."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from temporalio.client import WorkflowFailureError

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError, error_responses
from api.idempotency import refuse_changed_request, remember_session, remembered_session
from api.links import key_links, session_links
from api.orchestration import Started, idempotent_workflow_id, start_keygen, start_sign
from api.pagination import MAX_OFFSET, page
from api.refresh_schedule import apply_refresh_schedule
from api.schemas import KeyCreate, KeygenSessionPublic, KeyList, KeyPublic, SessionPublic, SignCreate
from api.views import key_view, session_view
from mpc.db.models import Key, SigningSession
from mpc.settings import parse_duration

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=error_responses(401, 422))

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Wait = Annotated[bool, Query(description="block until the session completes or fails (200); after `timeout` "
                                          "seconds the answer is 202 with the session still running")]
WaitTimeout = Annotated[float | None, Query(gt=0, le=600, description="seconds to wait (default SESSION_TIMEOUT)")]


# Starting a session: the statuses every start can answer besides its own.
_START_ERRORS = error_responses(
    400, 403, 409, 429, 503,
    s409="nodes offline or not admitted, not enough online nodes, the key is not active, or the "
         "Idempotency-Key is in use by a request in flight",
    s503="Temporal cannot start the workflow, or Vault cannot sign the intent; nothing was started or recorded")


async def _same_request(db: DbSession, started: Started, body: KeyCreate | SignCreate) -> None:
    """An Idempotency-Key repeat is answered with the earlier session only for the same body (A6)."""
    if started.replayed and (row := await db.get(SigningSession, started.session_id)) is not None:
        await refuse_changed_request(db, row, body)


async def _respond(state: State, db: DbSession, started: Started, wait: bool, timeout: float | None,
                   operation: str) -> JSONResponse:
    if wait and started.handle is not None:
        # A wait that times out answers like no wait: 202 with the session, still running (poll it).
        with contextlib.suppress(WorkflowFailureError, TimeoutError):  # a failed session's row says why
            await asyncio.wait_for(started.handle.result(), timeout or state.settings.session_timeout)
    db.expire_all()
    row = await db.get(SigningSession, started.session_id)
    if row is None:  # pragma: no cover - committed before the workflow started
        raise ApiError(500, "internal", "session row missing")
    view = session_view(row)  # sessions and their latency are counted where they end (the coordinator worker)
    body = view.model_dump(mode="json")
    if operation == "keygen" and row.key_id:
        key = await db.get(Key, row.key_id)
        body["key"] = key_view(key).model_dump(mode="json") if key else None
    done = row.status in ("completed", "failed")
    return JSONResponse(body, status_code=200 if done and wait else 202)


@router.post("", status_code=202, response_model=KeygenSessionPublic,
             summary="Generate a key among participant nodes (distributed keygen)",
             responses={202: {"description": "keygen session started (or, with `?wait=true`, still running)",
                              "links": {**key_links(), **session_links()}},
                        200: {"model": KeygenSessionPublic, "description": "`?wait=true`: the keygen ended "
                              "(completed or failed)", "links": {**key_links(), **session_links()}},
                        **_START_ERRORS},
             dependencies=[require_role("operator")])
async def create_key(body: KeyCreate, db: DbSession, state: State, principal: CurrentPrincipal,
                     idempotency_key: IdempotencyKey = None, wait: Wait = False,
                     timeout: WaitTimeout = None) -> JSONResponse:
    idem_workflow = idempotent_workflow_id("keygen", principal, idempotency_key)
    known = await remembered_session(state.redis, idem_workflow)
    if known and (row := await db.get(SigningSession, known)) is not None:
        started = Started(row.session_id, row.key_id or "", row.workflow_id, None, replayed=True)
    else:
        started = await start_keygen(db, state.temporal, state.settings, principal, body, idempotency_key,
                                     signer=state.intent_signer)
        await remember_session(state.redis, idem_workflow, started.session_id)
        if body.refresh_every is not None and not started.replayed and (key := await db.get(Key, started.key_id)):
            # Runs before the keygen ends are skipped (the key is not active yet).
            await apply_refresh_schedule(db, state, key, parse_duration(body.refresh_every), principal.name)
    await _same_request(db, started, body)
    return await _respond(state, db, started, wait, timeout, "keygen")


@router.get("", response_model=KeyList, summary="List keys",
            responses={200: {"description": "one page of keys"}})
async def list_keys(db: DbSession, _: CurrentPrincipal, status: str | None = None, chain_type: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> KeyList:
    query = select(Key)
    if status:
        query = query.where(Key.status == status)
    if chain_type:
        query = query.where(Key.chain_type == chain_type)
    rows, total = await page(db, query, Key.created_at.desc(), limit, offset)
    return KeyList(keys=[key_view(k) for k in rows], total=total)


@router.get("/{key_id}", response_model=KeyPublic, summary="One key",
            responses={200: {"description": "the key", "links": key_links()}, **error_responses(404)})
async def get_key(key_id: str, db: DbSession, _: CurrentPrincipal) -> KeyPublic:
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    return key_view(key)


@router.post("/{key_id}/sign", status_code=202, response_model=SessionPublic,
             summary="Sign a 32-byte digest with a key", dependencies=[require_role("operator")],
             responses={202: {"description": "signing session started (or, with `?wait=true`, still running)",
                              "links": session_links()},
                        200: {"model": SessionPublic, "description": "`?wait=true`: the session ended "
                              "(completed or failed)", "links": session_links()},
                        **_START_ERRORS, **error_responses(404)})
async def sign(key_id: str, body: SignCreate, db: DbSession, state: State, principal: CurrentPrincipal,
               idempotency_key: IdempotencyKey = None, wait: Wait = False,
               timeout: WaitTimeout = None) -> JSONResponse:
    idem_workflow = idempotent_workflow_id("sign", principal, idempotency_key, scope=key_id)
    known = await remembered_session(state.redis, idem_workflow)
    if known and (row := await db.get(SigningSession, known)) is not None:
        started = Started(row.session_id, key_id, row.workflow_id, None, replayed=True)
    else:
        started = await start_sign(db, state.temporal, state.settings, principal, key_id, body, idempotency_key,
                                   signer=state.intent_signer)
        await remember_session(state.redis, idem_workflow, started.session_id)
    await _same_request(db, started, body)
    return await _respond(state, db, started, wait, timeout, "sign")
