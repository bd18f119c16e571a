"""Sign a chain transaction with a key (or a BIP-32 child): POST /v1/keys/{key_id}/transactions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.idempotency import refuse_changed_request, remember_session, remembered_session
from api.links import session_links
from api.orchestration import Started, idempotent_workflow_id
from api.routes.keys import _START_ERRORS, IdempotencyKey, Wait, WaitTimeout, _respond
from api.schemas import SessionPublic
from api.transactions import TransactionCreate, start_transaction
from mpc.db.models import Key, SigningSession

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
    idem_workflow = idempotent_workflow_id("transaction", principal, idempotency_key, scope=key_id)
    known = await remembered_session(state.redis, idem_workflow)
    if known and (row := await db.get(SigningSession, known)) is not None:
        started = Started(row.session_id, key_id, row.workflow_id, None, replayed=True)
    else:
        started = await start_transaction(db, state.temporal, state.settings, principal, key_id, body,
                                          idempotency_key, signer=state.intent_signer)
        await remember_session(state.redis, idem_workflow, started.session_id)
    if started.replayed and (row := await db.get(SigningSession, started.session_id)) is not None:
        await refuse_changed_request(db, row, body)
    key = await db.get(Key, key_id)
    return await _respond(state, db, started, wait, timeout, (key.protocol, key.curve) if key else ("", ""), "sign")
