"""Key lifecycle: `POST /v1/keys/{id}/disable` and `/enable`, `DELETE /v1/keys/{id}` (archive), each 202 with
a session, and `GET /v1/keys/{id}/epochs`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.key_lifecycle import KeyStateChange
from api.links import session_links
from api.operations import Caller
from api.operations import lifecycle as operations
from api.operations.lifecycle import EpochList
from api.schemas import SessionPublic

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=error_responses(401, 404, 422))

_CHANGE: dict[str, Any] = {
    "status_code": 202, "response_model": SessionPublic, "dependencies": [require_role("operator")],
    "responses": {202: {"description": "the session that changes the key's state on every holder",
                        "links": session_links()},
                  **error_responses(400, 403, 409, 503, s409="the key is not in a state this change applies to, or a "
                                                        "holder is unknown or (to enable) offline",
                                    s503="Temporal cannot start the workflow, or Vault cannot sign the intent; "
                                         "nothing was started or recorded")},
}

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


async def _change(key_id: str, enabled: bool, body: KeyStateChange | None, db: DbSession, state: State,
                  principal: CurrentPrincipal, idempotency_key: str | None, archive: bool = False) -> JSONResponse:
    view = await operations.change_key_state(Caller(state, db, principal), key_id, enabled=enabled, body=body,
                                             idempotency_key=idempotency_key, archive=archive)
    return JSONResponse(view.model_dump(mode="json"), status_code=202)


@router.post("/{key_id}/disable", summary="Disable a key on every holder (nodes then refuse it)",
             **_CHANGE)
async def disable_key(key_id: str, db: DbSession, state: State, principal: CurrentPrincipal,
                      body: KeyStateChange | None = None, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    return await _change(key_id, False, body, db, state, principal, idempotency_key)


@router.post("/{key_id}/enable", summary="Enable a disabled key again on every holder",
             **_CHANGE)
async def enable_key(key_id: str, db: DbSession, state: State, principal: CurrentPrincipal,
                     body: KeyStateChange | None = None, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    return await _change(key_id, True, body, db, state, principal, idempotency_key)


@router.delete("/{key_id}", summary="Archive a key: every holder erases its share; metadata and address stay",
               **_CHANGE)
async def archive_key(key_id: str, db: DbSession, state: State, principal: CurrentPrincipal,
                      body: KeyStateChange | None = None, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    return await _change(key_id, False, body, db, state, principal, idempotency_key, archive=True)


@router.get("/{key_id}/epochs", response_model=EpochList, summary="The key's share epochs (holders, threshold)")
async def key_epochs(key_id: str, db: DbSession, _: CurrentPrincipal) -> EpochList:
    """The keygen epoch, then one per completed refresh or reshare (recorded at its commit point)."""
    return await operations.key_epochs(db, key_id)
