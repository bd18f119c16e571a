"""Backups: the sets (list, show with the signed manifest) and a run started now (api/backups.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.backups import BackupList, BackupPublic, BackupStarted, backup_view, start_backup
from api.errors import ApiError
from api.operations.context import Caller
from api.pagination import page
from mpc.db.models import Backup

LIST_LIMIT_MAX = 500


async def list_backups(db: AsyncSession, *, status: str | None, limit: int, offset: int) -> BackupList:
    query = select(Backup)
    if status:
        query = query.where(Backup.status == status)
    rows, total = await page(db, query, Backup.created_at.desc(), limit, offset)
    return BackupList(backups=[backup_view(r) for r in rows], total=total)


async def get_backup(db: AsyncSession, backup_id: str) -> BackupPublic:
    row = await db.get(Backup, backup_id)
    if row is None:
        raise ApiError(404, "backup_not_found", f"backup {backup_id} does not exist")
    return backup_view(row, with_manifest=True)


async def run_backup(caller: Caller) -> BackupStarted:
    """Record the run and start its workflow (503 `temporal_unavailable`, and nothing recorded, if it cannot)."""
    return await start_backup(caller.db, caller.state.temporal, caller.state.settings, caller.principal)
