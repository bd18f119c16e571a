"""Keys: create (distributed keygen), list, show, and sign with a key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.links import key_links, session_links
from api.operations import Caller, Outcome
from api.operations import keys as operations
from api.pagination import MAX_OFFSET
from api.schemas import KeyCreate, KeygenSessionPublic, KeyList, KeyPublic, SessionPublic, SignCreate

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


def _answer(outcome: Outcome) -> JSONResponse:
    return JSONResponse(outcome.body.model_dump(mode="json"), status_code=200 if outcome.finished else 202)


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
    outcome = await operations.create_key(Caller(state, db, principal), body, idempotency_key=idempotency_key,
                                          wait=wait, timeout=timeout)
    return _answer(outcome)


@router.get("", response_model=KeyList, summary="List keys",
            responses={200: {"description": "one page of keys"}})
async def list_keys(db: DbSession, _: CurrentPrincipal, status: str | None = None, chain_type: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=operations.LIST_LIMIT_MAX)] = 100,
                    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> KeyList:
    return await operations.list_keys(db, status=status, chain_type=chain_type, limit=limit, offset=offset)


@router.get("/{key_id}", response_model=KeyPublic, summary="One key",
            responses={200: {"description": "the key", "links": key_links()}, **error_responses(404)})
async def get_key(key_id: str, db: DbSession, _: CurrentPrincipal) -> KeyPublic:
    return await operations.get_key(db, key_id)


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
    outcome = await operations.sign(Caller(state, db, principal), key_id, body, idempotency_key=idempotency_key,
                                    wait=wait, timeout=timeout)
    return _answer(outcome)
