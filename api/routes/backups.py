"""Backups: `GET /v1/backups`, `GET /v1/backups/{id}`, `POST /v1/backups` (run one now).
The work is in api/operations/backups.py, shared with the gRPC API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.backups import BackupList, BackupPublic, BackupStarted
from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.operations import Caller
from api.operations import backups as operations
from api.pagination import MAX_OFFSET

router = APIRouter(prefix="/v1/backups", tags=["backups"], responses=error_responses(401, 422))


@router.get("", response_model=BackupList, summary="Backup sets, newest first",
            dependencies=[require_role("operator", "viewer")],
            responses={200: {"description": "one page of backup sets"}, **error_responses(403)})
async def list_backups(db: DbSession, status: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=operations.LIST_LIMIT_MAX)] = 100,
                       offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> BackupList:
    return await operations.list_backups(db, status=status, limit=limit, offset=offset)


@router.get("/{backup_id}", response_model=BackupPublic, summary="One backup set, with its signed manifest",
            dependencies=[require_role("operator", "viewer")], responses=error_responses(403, 404))
async def get_backup(backup_id: str, db: DbSession) -> BackupPublic:
    return await operations.get_backup(db, backup_id)


@router.post("", status_code=202, response_model=BackupStarted, summary="Run a backup now",
             dependencies=[require_role("operator")],
             responses={202: {"description": "the run started: follow its session"},
                        **error_responses(403, 503, s503="Temporal cannot start the workflow; nothing was recorded")})
async def run_backup(db: DbSession, state: State, principal: CurrentPrincipal) -> JSONResponse:
    started = await operations.run_backup(Caller(state, db, principal))
    return JSONResponse(started.model_dump(mode="json"), status_code=202)
