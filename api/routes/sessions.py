"""Sessions (keygen and signing progress) and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.links import session_links
from api.operations import sessions as operations
from api.pagination import MAX_OFFSET
from api.schemas import AuditLogList, SessionList, SessionPublic

router = APIRouter(prefix="/v1", tags=["sessions"], responses=error_responses(401, 422))

@router.get("/sessions/{session_id}", response_model=SessionPublic, summary="One session",
            responses={200: {"description": "the session", "links": session_links()}, **error_responses(404)})
async def get_session(session_id: str, db: DbSession, state: State, _: CurrentPrincipal) -> SessionPublic:
    return await operations.get_session(db, session_id, state.temporal)


@router.get("/sessions", response_model=SessionList, summary="Sessions, newest first",
            responses={200: {"description": "one page of sessions"}})
async def list_sessions(db: DbSession, _: CurrentPrincipal, key_id: str | None = None, status: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=operations.SESSIONS_LIMIT_MAX)] = 100,
                        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> SessionList:
    return await operations.list_sessions(db, key_id=key_id, status=status, limit=limit, offset=offset)


@router.get("/audit-logs", response_model=AuditLogList, summary="Audit log, newest first",
            dependencies=[require_role("operator", "viewer")], responses=error_responses(403))
async def audit_logs(db: DbSession, action: str | None = None, resource_id: str | None = None,
                     session_id: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=operations.AUDIT_LIMIT_MAX)] = 100,
                     offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> AuditLogList:
    return await operations.audit_logs(db, action=action, resource_id=resource_id, session_id=session_id,
                                       limit=limit, offset=offset)
