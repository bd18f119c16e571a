"""Sessions (keygen and signing progress) and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import CurrentPrincipal, DbSession, require_role
from api.errors import ApiError, error_responses
from api.links import session_links
from api.pagination import MAX_OFFSET, page
from api.schemas import ApprovalDecision, AuditLogList, SessionList, SessionPublic
from api.views import audit_view, session_view
from mpc.db.models import AuditLog, SigningSession

router = APIRouter(prefix="/v1", tags=["sessions"], responses=error_responses(401, 422))

@router.get("/sessions/{session_id}", response_model=SessionPublic, summary="One session",
            responses={200: {"description": "the session", "links": session_links()}, **error_responses(404)})
async def get_session(session_id: str, db: DbSession, _: CurrentPrincipal) -> SessionPublic:
    row = await db.get(SigningSession, session_id)
    if row is None:
        raise ApiError(404, "session_not_found", f"session {session_id} does not exist")
    decisions = (await db.execute(select(AuditLog).where(
        AuditLog.session_id == session_id, AuditLog.action.in_(("session.approve", "session.reject")))
        .order_by(AuditLog.id))).scalars().all()
    view = session_view(row)
    view.approvals = [ApprovalDecision(approver=d.details.get("approver"), public_key=d.details.get("public_key"),
                                       decision=d.action.removeprefix("session."), at=d.timestamp)
                      for d in decisions]
    return view


@router.get("/sessions", response_model=SessionList, summary="Sessions, newest first",
            responses={200: {"description": "one page of sessions"}})
async def list_sessions(db: DbSession, _: CurrentPrincipal, key_id: str | None = None, status: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> SessionList:
    query = select(SigningSession)
    if key_id:
        query = query.where(SigningSession.key_id == key_id)
    if status:
        query = query.where(SigningSession.status == status)
    rows, total = await page(db, query, SigningSession.created_at.desc(), limit, offset)
    return SessionList(sessions=[session_view(r) for r in rows], total=total)


@router.get("/audit-logs", response_model=AuditLogList, summary="Audit log, newest first",
            dependencies=[require_role("operator", "viewer")], responses=error_responses(403))
async def audit_logs(db: DbSession, action: str | None = None, resource_id: str | None = None,
                     session_id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> AuditLogList:
    query = select(AuditLog)
    if action:
        query = query.where(AuditLog.action == action)
    if resource_id:
        query = query.where(AuditLog.resource_id == resource_id)
    if session_id:
        query = query.where(AuditLog.session_id == session_id)
    rows, total = await page(db, query, AuditLog.id.desc(), limit, offset)
    return AuditLogList(entries=[audit_view(r) for r in rows], total=total)
