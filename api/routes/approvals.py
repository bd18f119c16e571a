"""Human approvals of a session's intent (DESIGN.md "Trust model"; issue 9 part 5).

`GET /v1/sessions/{id}/intent` returns the canonical intent bytes an approver signs (off-platform,
e.g. `mpc approve`); `POST /v1/sessions/{id}/approvals` relays an approval or a rejection to the
waiting workflow as a Temporal signal. The API checks the approver and the signature first (422
and nothing changes otherwise); every node checks the approvals again against its pinned policy.
The work is in api/operations/sessions.py, shared with the gRPC API.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.operations import Caller
from api.operations import sessions as operations
from api.operations.sessions import ApprovalCreate
from api.schemas import ApprovalAccepted, IntentPublic

router = APIRouter(prefix="/v1/sessions", tags=["approvals"], responses=error_responses(
    401, 404, 409, 422, 503, s409="the session needs no human approval (or, for a decision, is not awaiting one)",
    s503="Temporal cannot reach the session's workflow"))

__all__ = ["ApprovalCreate", "router"]


@router.get("/{session_id}/intent", response_model=IntentPublic,
            summary="The intent bytes an approver signs, and who approved so far")
async def get_intent(session_id: str, db: DbSession, state: State, principal: CurrentPrincipal) -> IntentPublic:
    return await operations.get_intent(Caller(state, db, principal), session_id)


@router.post("/{session_id}/approvals", status_code=202, response_model=ApprovalAccepted,
             summary="Approve or reject a session's intent", dependencies=[require_role("operator")],
             responses=error_responses(400, 403))
async def post_approval(session_id: str, body: ApprovalCreate, db: DbSession, state: State,
                        principal: CurrentPrincipal) -> ApprovalAccepted:
    return await operations.post_approval(Caller(state, db, principal), session_id, body)
