"""Backups through the API: schemas, the start of a run (`POST /v1/backups`), and the backup gauges.

A run is a session like any other (`operation` backup; `GET /v1/sessions/{id}` shows its steps as rounds),
and a row in `backups` that ends `completed` (with its signed manifest) or `failed` (with its cause).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.common import WorkflowIDReusePolicy

from api.auth import Principal
from api.errors import ApiError
from api.metrics import REGISTRY
from api.orchestration import ClientFactory
from mpc.db.models import AuditLog, Backup, SigningSession
from mpc.protocols import SessionStatus
from mpc.queues import COORDINATOR_TASK_QUEUE
from workflows.backup import BackupWorkflow
from workflows.backup_types import BackupRequest

RUN_TIMEOUT = timedelta(hours=6)


class BackupPublic(BaseModel):
    backup_id: str
    status: str = Field(description="running, completed, failed, or deleted (by retention)")
    session_id: str | None
    workflow_id: str
    path: str = Field(description="the set's directory on the coordinator (BACKUP_DIR/<backup_id>)")
    size_bytes: int | None = Field(description="every file of the set, manifest included")
    file_count: int | None
    duration_ms: int | None
    requested_by: str
    signed_by: str | None = Field(description="the API intent key that signed the manifest (hex)")
    error: dict[str, Any] | None
    created_at: datetime
    completed_at: datetime | None
    manifest: dict[str, Any] | None = Field(default=None, description="the signed manifest (one backup only)")


class BackupList(BaseModel):
    backups: list[BackupPublic]
    total: int


class BackupStarted(BaseModel):
    backup_id: str
    session_id: str
    status: str


def backup_view(row: Backup, *, with_manifest: bool = False) -> BackupPublic:
    return BackupPublic(backup_id=row.backup_id, status=row.status, session_id=row.session_id,
                        workflow_id=row.workflow_id, path=row.path, size_bytes=row.size_bytes,
                        file_count=row.file_count, duration_ms=row.duration_ms, requested_by=row.requested_by,
                        signed_by=row.signed_by, error=row.error, created_at=row.created_at,
                        completed_at=row.completed_at, manifest=row.manifest if with_manifest else None)


async def start_backup(db: AsyncSession, client_factory: ClientFactory, settings: Any,
                       principal: Principal) -> BackupStarted:
    """Record the run, then start the workflow; if Temporal cannot start it, nothing stays recorded."""
    backup_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    workflow_id = f"backup-{session_id}"
    db.add(Backup(backup_id=backup_id, session_id=session_id, workflow_id=workflow_id, status="running",
                  path=str(settings.backup_dir / backup_id), requested_by=principal.name))
    db.add(SigningSession(session_id=session_id, workflow_id=workflow_id, operation="backup", protocol="-",
                          status=SessionStatus.PENDING, participants=[]))
    db.add(AuditLog(actor=principal.name, action="backup.request", resource_type="backup", resource_id=backup_id,
                    session_id=session_id, status="accepted", details={}))
    await db.commit()
    try:
        client = await client_factory()
        await client.start_workflow(BackupWorkflow.run, BackupRequest(backup_id, session_id, principal.name),
                                    id=workflow_id, task_queue=COORDINATOR_TASK_QUEUE, execution_timeout=RUN_TIMEOUT,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except Exception as exc:
        for table, column, value in ((AuditLog, AuditLog.session_id, session_id),
                                     (SigningSession, SigningSession.session_id, session_id),
                                     (Backup, Backup.backup_id, backup_id)):
            await db.execute(delete(table).where(column == value))
        await db.commit()
        raise ApiError(503, "temporal_unavailable", f"could not start the backup ({type(exc).__name__}); "
                                                    "nothing was recorded") from None
    return BackupStarted(backup_id=backup_id, session_id=session_id, status=SessionStatus.PENDING)


class BackupGauges(Collector):
    """`mpc_backup_last_success_timestamp_seconds` (the alert rule MpcBackupTooOld watches it),
    `..._duration_seconds` and `..._size_bytes` of the newest completed set, and `mpc_backups{status}`.
    Read from the database at each scrape; the last-success series are absent until a set completed, so
    a new installation does not alert before its first scheduled run."""

    def __init__(self) -> None:
        self.last: Backup | None = None
        self.counts: dict[str, int] = {}

    async def refresh(self, db: AsyncSession) -> None:
        self.last = (await db.execute(select(Backup).where(Backup.status.in_(("completed", "deleted")),
                                                           Backup.completed_at.is_not(None))
                                      .order_by(Backup.completed_at.desc()).limit(1))).scalar_one_or_none()
        rows = (await db.execute(select(Backup.status, func.count()).group_by(Backup.status))).all()
        self.counts = {str(status): int(n) for status, n in rows}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily("mpc_backups", "Backup sets by status", labels=["status"])
        for status in sorted({"running", "completed", "failed", "deleted", *self.counts}):
            by_status.add_metric([status], self.counts.get(status, 0))
        yield by_status
        last = self.last
        if last is None or last.completed_at is None:
            return
        yield GaugeMetricFamily("mpc_backup_last_success_timestamp_seconds",
                                "Unix time the newest completed backup set finished",
                                value=last.completed_at.timestamp())
        yield GaugeMetricFamily("mpc_backup_last_success_duration_seconds",
                                "How long the newest completed backup took", value=(last.duration_ms or 0) / 1000)
        yield GaugeMetricFamily("mpc_backup_last_success_size_bytes", "Size of the newest completed backup set",
                                value=last.size_bytes or 0)


BACKUP_GAUGES = BackupGauges()
REGISTRY.register(BACKUP_GAUGES)
