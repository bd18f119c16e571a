"""Backups: `GET /v1/backups`, `GET /v1/backups/{id}`, `POST /v1/backups` (run one now)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.backups import BackupList, BackupPublic, BackupStarted, backup_view, start_backup
from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError, error_responses
from api.pagination import MAX_OFFSET, page
from mpc.db.models import Backup

router = APIRouter(prefix="/v1/backups", tags=["backups"], responses=error_responses(401, 422))


@router.get("", response_model=BackupList, summary="Backup sets, newest first",
            dependencies=[require_role("operator", "viewer")],
            responses={200: {"description": "one page of backup sets"}, **error_responses(403)})
async def list_backups(db: DbSession, status: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> BackupList:
    query = select(Backup)
    if status:
        query = query.where(Backup.status == status)
    rows, total = await page(db, query, Backup.created_at.desc(), limit, offset)
    return BackupList(backups=[backup_view(r) for r in rows], total=total)


@router.get("/{backup_id}", response_model=BackupPublic, summary="One backup set, with its signed manifest",
            dependencies=[require_role("operator", "viewer")], responses=error_responses(403, 404))
async def get_backup(backup_id: str, db: DbSession) -> BackupPublic:
    row = await db.get(Backup, backup_id)
    if row is None:
        raise ApiError(404, "backup_not_found", f"backup {backup_id} does not exist")
    return backup_view(row, with_manifest=True)


@router.post("", status_code=202, response_model=BackupStarted, summary="Run a backup now",
             dependencies=[require_role("operator")],
             responses={202: {"description": "the run started: follow its session"},
                        **error_responses(403, 503, s503="Temporal cannot start the workflow; nothing was recorded")})
async def run_backup(db: DbSession, state: State, principal: CurrentPrincipal) -> JSONResponse:
    started = await start_backup(db, state.temporal, state.settings, principal)
    return JSONResponse(started.model_dump(mode="json"), status_code=202)
