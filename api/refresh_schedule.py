"""Scheduled refresh per key: a Temporal Schedule (`refresh-<key_id>`, in `temporal schedule list`) that
starts ScheduledRefreshWorkflow every `every`; the API process serves its one activity on `mpc-api`,
signing a fresh refresh intent each time (workflows/scheduled_refresh.py says why)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker

from api.auth import Principal
from api.errors import ApiError
from api.reshare import RefreshCreate, start_change
from api.state import AppState
from mpc.db.models import AuditLog, Key
from mpc.protocols import Activity
from mpc.queues import API_TASK_QUEUE, COORDINATOR_TASK_QUEUE
from workflows.scheduled_refresh import ScheduledRefreshWorkflow
from workflows.types import ScheduledRefreshRequest

log = logging.getLogger("mpc.api.schedule")
SCHEDULER = Principal(token_id="refresh-schedule", name="refresh-schedule", role="operator")  # noqa: S106 - an id, no secret
MIN_EVERY_SECONDS = 1.0


def schedule_id(key_id: str) -> str:
    return f"refresh-{key_id}"


async def set_refresh_schedule(client: Client, key_id: str, every_seconds: float | None) -> None:
    """Create, update or (None) delete the key's refresh Schedule. Overlapping runs are skipped."""
    handle = client.get_schedule_handle(schedule_id(key_id))
    if every_seconds is None:
        with contextlib.suppress(RPCError):  # no schedule: nothing to delete
            await handle.delete()
        return
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(ScheduledRefreshWorkflow.run, ScheduledRefreshRequest(key_id),
                                           id=f"scheduled-refresh-{key_id}", task_queue=COORDINATOR_TASK_QUEUE),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id(key_id), schedule)
    except ScheduleAlreadyRunningError:  # the SDK's answer to ALREADY_EXISTS: change the existing one

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)


async def apply_refresh_schedule(db: AsyncSession, state: AppState, key: Key, every: float | None,
                                 actor: str) -> None:
    """Set the key's Schedule, then record it on the key and in the audit log (503 if Temporal fails)."""
    try:
        await set_refresh_schedule(await state.temporal(), key.key_id, every)
    except Exception as exc:
        raise ApiError(503, "temporal_unavailable", f"cannot change the refresh schedule ({type(exc).__name__})") \
            from None
    key.public_data = {**(key.public_data or {}), "refresh_every": every}
    db.add(AuditLog(actor=actor, action="key.refresh_schedule", resource_type="key", resource_id=key.key_id,
                    status="success", details={"every_seconds": every}))
    await db.commit()


class ScheduledRefreshes:
    def __init__(self, state: AppState) -> None:
        self.state = state

    @activity.defn(name=Activity.START_SCHEDULED_REFRESH.value)
    async def start(self, request: ScheduledRefreshRequest) -> str:
        """Start the refresh as an operator request would (the run's workflow id is its Idempotency-Key)."""
        state = self.state
        async with state.sessions() as db:
            try:
                started = await start_change(db, state.temporal, state.settings, SCHEDULER, request.key_id,
                                             RefreshCreate(reason="scheduled"), activity.info().workflow_id,
                                             signer=state.intent_signer)
            except ApiError as exc:
                if exc.status == 409:  # not active now, or a change is running: this run is skipped
                    log.info("scheduled refresh skipped", extra={"key_id": request.key_id, "code": exc.code})
                    return f"skipped: {exc.code}"
                if exc.status == 503:
                    raise  # Temporal or Vault unavailable: retried
                raise ApplicationError(f"{exc.code}: {exc.message}", type="InvalidRequest",
                                       non_retryable=True) from None
        return started.session_id


async def serve_api_activities(state: AppState, stop: asyncio.Event) -> None:
    """Run the API's own worker until `stop`; reconnect while Temporal is unreachable."""
    while not stop.is_set():
        try:
            client = await state.temporal()
            from api.backup_activities import BackupSigning

            backups = BackupSigning(state)
            worker = Worker(client, task_queue=API_TASK_QUEUE, activities=[
                ScheduledRefreshes(state).start, backups.export_intents, backups.sign_manifest])
            async with worker:
                await stop.wait()
        except Exception as exc:
            log.warning("API worker not running, retrying", extra={"error": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)
