"""Human approvals of a session's intent (DESIGN.md "Trust model"; issue 9 part 5).

`GET /v1/sessions/{id}/intent` returns the canonical intent bytes an approver signs (off-platform,
e.g. `mpc approve`); `POST /v1/sessions/{id}/approvals` relays an approval or a rejection to the
waiting workflow as a Temporal signal. The API checks the approver and the signature first (422
and nothing changes otherwise); every node checks the approvals again against its pinned policy.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError, error_responses
from api.schemas import HEX32_SCHEMA, HEX64_SCHEMA, ApprovalAccepted, ApproverRef, IntentPublic
from mpc.db.models import AuditLog, Key, SigningSession
from mpc.intents import INTENT_TAG, REJECTION_TAG, KeyPolicy, verify_ed25519
from mpc.protocols import SessionStatus
from workflows.types import ApprovalSignal, ApprovalState

router = APIRouter(prefix="/v1/sessions", tags=["approvals"], responses=error_responses(
    401, 404, 409, 422, 503, s409="the session needs no human approval (or, for a decision, is not awaiting one)",
    s503="Temporal cannot reach the session's workflow"))

AWAITING = str(SessionStatus.AWAITING_APPROVAL)


class ApprovalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(description="the approver's Ed25519 public key (64 hex characters), as in the policy",
                            json_schema_extra=HEX32_SCHEMA)
    signature: str = Field(description="Ed25519 signature over the intent bytes (a rejection: over "
                                       "'mpc-signer/reject/v1\\0' + the intent bytes), 128 hex characters",
                           json_schema_extra=HEX64_SCHEMA)
    reject: bool = False

    @field_validator("public_key", "signature")
    @classmethod
    def _hex(cls, value: str, info: Any) -> str:
        length = 64 if info.field_name == "public_key" else 128
        value = value.lower()
        if len(value) != length or any(c not in "0123456789abcdef" for c in value):
            raise ValueError(f"must be {length} hex characters")
        return value


async def _waiting(db: DbSession, state: State, session_id: str) -> tuple[SigningSession, KeyPolicy, ApprovalState]:
    row = await db.get(SigningSession, session_id)
    if row is None:
        raise ApiError(404, "session_not_found", f"session {session_id} does not exist")
    key = await db.get(Key, row.key_id) if row.key_id else None
    policy = KeyPolicy.from_dict((key.public_data or {}).get("policy") if key else None)
    if row.operation not in ("sign", "disable", "enable") or policy.required(row.operation) == 0:
        raise ApiError(409, "no_approval_needed", f"session {session_id} needs no human approval")
    try:
        client = await state.temporal()
        approval: ApprovalState = await client.get_workflow_handle(row.workflow_id).query(
            "approval_state", result_type=ApprovalState)
    except Exception as exc:
        raise ApiError(503, "temporal_unavailable", f"cannot reach the session's workflow ({type(exc).__name__})"
                       ) from None
    return row, policy, approval


def _names(policy: KeyPolicy) -> dict[str, str]:
    return {a.public_key: a.name for a in policy.approvers}


@router.get("/{session_id}/intent", response_model=IntentPublic,
            summary="The intent bytes an approver signs, and who approved so far")
async def get_intent(session_id: str, db: DbSession, state: State, _: CurrentPrincipal) -> IntentPublic:
    row, policy, approval = await _waiting(db, state, session_id)
    raw = bytes.fromhex(approval.intent)
    names = _names(policy)
    return IntentPublic(
        session_id=session_id, status=row.status, intent=approval.intent,
        intent_fields=json.loads(raw[len(INTENT_TAG):]), approvals_needed=approval.needed,
        approvals=[ApproverRef(name=names.get(a.public_key), public_key=a.public_key) for a in approval.approvals],
        rejected_by=names.get(approval.rejected_by or ""))


@router.post("/{session_id}/approvals", status_code=202, response_model=ApprovalAccepted,
             summary="Approve or reject a session's intent", dependencies=[require_role("operator")],
             responses=error_responses(400, 403))
async def post_approval(session_id: str, body: ApprovalCreate, db: DbSession, state: State,
                        principal: CurrentPrincipal) -> ApprovalAccepted:
    row, policy, approval = await _waiting(db, state, session_id)
    if row.status != AWAITING:
        raise ApiError(409, "not_awaiting_approval", f"session {session_id} is {row.status}")
    name = _names(policy).get(body.public_key)
    if name is None:
        raise ApiError(422, "unknown_approver", "this public key is not an approver of the key's policy",
                       field="public_key")
    raw = bytes.fromhex(approval.intent)
    signed = REJECTION_TAG + raw if body.reject else raw
    if not verify_ed25519(body.public_key, signed, body.signature):
        raise ApiError(422, "invalid_signature", "the signature does not verify over the intent bytes",
                       field="signature")
    decision = "reject" if body.reject else "approve"
    try:
        client = await state.temporal()
        await client.get_workflow_handle(row.workflow_id).signal(
            "approve", ApprovalSignal(body.public_key, body.signature, body.reject))
    except Exception as exc:
        raise ApiError(503, "temporal_unavailable", f"cannot signal the session's workflow ({type(exc).__name__})"
                       ) from None
    db.add(AuditLog(actor=principal.name, action=f"session.{decision}", resource_type="session",
                    resource_id=session_id, session_id=session_id, status="success",
                    details={"approver": name, "public_key": body.public_key, "key_id": row.key_id}))
    await db.commit()
    return ApprovalAccepted(session_id=session_id, approver=name, decision=decision)
