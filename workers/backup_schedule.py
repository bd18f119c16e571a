"""The backup Schedule (`mpc-backup`): created or updated by the coordinator worker at every start.

Idempotent: an existing schedule is replaced by the configured one (a changed BACKUP_SCHEDULE takes effect
at the next start); an empty BACKUP_SCHEDULE deletes it. Overlapping runs are skipped. It shows in
`temporal schedule list` and the Web UI.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from mpc.queues import COORDINATOR_TASK_QUEUE
from workflows.backup import BackupWorkflow
from workflows.backup_types import BackupRequest

BACKUP_SCHEDULE_ID = "mpc-backup"
BACKUP_WORKFLOW_ID = "backup-scheduled"  # Temporal appends the scheduled time to each run's id
RUN_TIMEOUT = timedelta(hours=6)

log = logging.getLogger("mpc.worker.backup_schedule")


def backup_schedule(cron: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(BackupWorkflow.run, BackupRequest(requested_by="schedule"),
                                           id=BACKUP_WORKFLOW_ID, task_queue=COORDINATOR_TASK_QUEUE,
                                           execution_timeout=RUN_TIMEOUT),
        spec=ScheduleSpec(cron_expressions=[cron]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_backup_schedule(client: Client, cron: str) -> None:
    """Create, update or (empty `cron`) delete the backup Schedule."""
    handle = client.get_schedule_handle(BACKUP_SCHEDULE_ID)
    if not cron:
        with contextlib.suppress(RPCError):
            await handle.delete()
        return
    schedule = backup_schedule(cron)
    try:
        await client.create_schedule(BACKUP_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:  # the SDK's answer to ALREADY_EXISTS: a restart, or another coordinator

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
    log.info("backup schedule set", extra={"schedule": cron})
