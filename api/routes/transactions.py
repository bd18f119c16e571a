"""Sign a chain transaction with a key (or a BIP-32 child): POST /v1/keys/{key_id}/transactions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.links import session_links
from api.operations import Caller
from api.operations import keys as operations
from api.routes.keys import _START_ERRORS, IdempotencyKey, Wait, WaitTimeout, _answer
from api.schemas import SessionPublic
from api.transactions import TransactionCreate

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=error_responses(401, 422))


@router.post("/{key_id}/transactions", status_code=202, response_model=SessionPublic,
             summary="Sign a chain transaction (Ethereum, Bitcoin PSBT, Solana)",
             description="Every signing node recomputes what it signs from the transaction named in the intent. "
                         "The session shows the decoded `transaction` and, once completed, the signed `result`.",
             dependencies=[require_role("operator")],
             responses={202: {"description": "signing session started (or, with `?wait=true`, still running)",
                              "links": session_links()},
                        200: {"model": SessionPublic, "description": "`?wait=true`: the session ended "
                              "(completed or failed)", "links": session_links()},
                        **_START_ERRORS, **error_responses(404)})
async def sign_transaction(key_id: str, body: TransactionCreate, db: DbSession, state: State,
                           principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None, wait: Wait = False,
                           timeout: WaitTimeout = None) -> JSONResponse:
    outcome = await operations.sign_transaction(Caller(state, db, principal), key_id, body,
                                                idempotency_key=idempotency_key, wait=wait, timeout=timeout)
    return _answer(outcome)
