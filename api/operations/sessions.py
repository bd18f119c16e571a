"""Sessions (progress of keygen, signing and key changes), human approvals of a session's intent, and the audit log.

Approvals (DESIGN.md "Trust model"): the intent bytes an approver signs off-platform, and an approval or a
rejection relayed to the waiting workflow as a Temporal signal. The API checks the approver and the signature
first (422 and nothing changes otherwise); every node checks the approvals again against its pinned policy.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.errors import ApiError
from api.operations.context import Caller
from api.pagination import page
from api.schemas import (
    HEX32_SCHEMA,
    HEX64_SCHEMA,
    ApprovalAccepted,
    ApprovalDecision,
    ApproverRef,
    AuditLogList,
    IntentPublic,
    SessionList,
    SessionPublic,
)
from api.start_interrupted import settle_if_never_started
from api.views import audit_view, session_view
from mpc.db.models import AuditLog, Key, SigningSession
from mpc.intents import INTENT_TAG, REJECTION_TAG, KeyPolicy, verify_ed25519
from mpc.protocols import SessionStatus
from workflows.types import ApprovalSignal, ApprovalState

SESSIONS_LIMIT_MAX = 500
AUDIT_LIMIT_MAX = 1000
AWAITING = str(SessionStatus.AWAITING_APPROVAL)


async def get_session(db: AsyncSession, session_id: str,
                      temporal: Callable[[], Awaitable[Client]] | None = None) -> SessionPublic:
    """One session; with `temporal`, a `pending` one whose workflow never started ends `start_interrupted`."""
    row = await db.get(SigningSession, session_id)
    if row is None:
        raise ApiError(404, "session_not_found", f"session {session_id} does not exist")
    if temporal is not None:
        await settle_if_never_started(db, temporal, row)
    decisions = (await db.execute(select(AuditLog).where(
        AuditLog.session_id == session_id, AuditLog.action.in_(("session.approve", "session.reject")))
        .order_by(AuditLog.id))).scalars().all()
    view = session_view(row)
    view.approvals = [ApprovalDecision(approver=d.details.get("approver"), public_key=d.details.get("public_key"),
                                       decision=d.action.removeprefix("session."), at=d.timestamp)
                      for d in decisions]
    return view


async def list_sessions(db: AsyncSession, *, key_id: str | None, status: str | None, limit: int,
                        offset: int) -> SessionList:
    query = select(SigningSession)
    if key_id:
        query = query.where(SigningSession.key_id == key_id)
    if status:
        query = query.where(SigningSession.status == status)
    rows, total = await page(db, query, SigningSession.created_at.desc(), limit, offset)
    return SessionList(sessions=[session_view(r) for r in rows], total=total)


async def audit_logs(db: AsyncSession, *, action: str | None, resource_id: str | None, session_id: str | None,
                     limit: int, offset: int) -> AuditLogList:
    query = select(AuditLog)
    if action:
        query = query.where(AuditLog.action == action)
    if resource_id:
        query = query.where(AuditLog.resource_id == resource_id)
    if session_id:
        query = query.where(AuditLog.session_id == session_id)
    rows, total = await page(db, query, AuditLog.id.desc(), limit, offset)
    return AuditLogList(entries=[audit_view(r) for r in rows], total=total)


# ---- approvals -------------------------------------------------------------------------------------------


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


async def _waiting(caller: Caller, session_id: str) -> tuple[SigningSession, KeyPolicy, ApprovalState]:
    db = caller.db
    row = await db.get(SigningSession, session_id)
    if row is None:
        raise ApiError(404, "session_not_found", f"session {session_id} does not exist")
    key = await db.get(Key, row.key_id) if row.key_id else None
    policy = KeyPolicy.from_dict((key.public_data or {}).get("policy") if key else None)
    if row.operation not in ("sign", "disable", "enable") or policy.required(row.operation) == 0:
        raise ApiError(409, "no_approval_needed", f"session {session_id} needs no human approval")
    try:
        client = await caller.state.temporal()
        approval: ApprovalState = await client.get_workflow_handle(row.workflow_id).query(
            "approval_state", result_type=ApprovalState)
    except Exception as exc:
        raise ApiError(503, "temporal_unavailable", f"cannot reach the session's workflow ({type(exc).__name__})"
                       ) from None
    return row, policy, approval


def _names(policy: KeyPolicy) -> dict[str, str]:
    return {a.public_key: a.name for a in policy.approvers}


async def get_intent(caller: Caller, session_id: str) -> IntentPublic:
    row, policy, approval = await _waiting(caller, session_id)
    raw = bytes.fromhex(approval.intent)
    names = _names(policy)
    return IntentPublic(
        session_id=session_id, status=row.status, intent=approval.intent,
        intent_fields=json.loads(raw[len(INTENT_TAG):]), approvals_needed=approval.needed,
        approvals=[ApproverRef(name=names.get(a.public_key), public_key=a.public_key) for a in approval.approvals],
        rejected_by=names.get(approval.rejected_by or ""))


async def post_approval(caller: Caller, session_id: str, body: ApprovalCreate) -> ApprovalAccepted:
    row, policy, approval = await _waiting(caller, session_id)
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
        client = await caller.state.temporal()
        await client.get_workflow_handle(row.workflow_id).signal(
            "approve", ApprovalSignal(body.public_key, body.signature, body.reject))
    except Exception as exc:
        raise ApiError(503, "temporal_unavailable", f"cannot signal the session's workflow ({type(exc).__name__})"
                       ) from None
    caller.db.add(AuditLog(actor=caller.principal.name, action=f"session.{decision}", resource_type="session",
                           resource_id=session_id, session_id=session_id, status="success",
                           details={"approver": name, "public_key": body.public_key, "key_id": row.key_id}))
    await caller.db.commit()
    return ApprovalAccepted(session_id=session_id, approver=name, decision=decision)
