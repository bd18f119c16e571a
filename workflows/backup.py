"""BackupWorkflow: one backup set, on a Temporal Schedule (`mpc-backup`, BACKUP_SCHEDULE) or `POST /v1/backups`.

Steps, each an activity: the coordinator records the set and dumps the database (`pg_dump`, gzip); every
node holding a key sends its public `.meta` files from its own task queue; with a recovery key, the API
signs one `export` intent per key and every holder encrypts its share to that key (each node checks the
intent itself); the coordinator writes the manifest, the API signs it with its intent key (the coordinator
never holds it), and the coordinator renames the staging directory to the set's final name, which is the
moment the set exists, then applies retention. Any failed step fails the run with its cause (audited,
metric) and removes the staging directory: no half-written set is ever marked complete.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity, SessionStatus
    from mpc.queues import API_TASK_QUEUE, COORDINATOR_TASK_QUEUE, participant_task_queue
    from workflows import coordinator_calls as db
    from workflows.backup_types import (
        BackupFile,
        BackupPlan,
        BackupRequest,
        BackupStep,
        BackupSummary,
        CollectMetaPage,
        CollectMetaRequest,
        EscrowShareRequest,
        ExportIntents,
        ExportIntentsInput,
        FailBackupInput,
        FinishBackupInput,
        ManifestDigest,
        ManifestSignatureResult,
        SealManifestInput,
        WriteFilesInput,
    )
    from workflows.driver import INVALID_REQUEST, SessionFailedError, failure_from, session_failed_error
    from workflows.search import OPERATION, STATUS
    from workflows.types import Progress, SessionFailure

STEP_FAILED = "BackupStepFailed"
SEARCH_ATTRIBUTES_PATCH = "backup-search-attributes"
"""Version 2 of this workflow, behind `workflow.patched` (README "Versioning a workflow change"): a run
upserts MpcOperation=backup and MpcStatus (running, then completed or failed), so backups are found with
`temporal workflow list --query 'MpcOperation="backup"'` like every session. A run that the earlier version
started replays without it (its history has no marker), to the end."""
WRITE_BATCH_BYTES = 512 * 1024
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                     maximum_attempts=3, non_retryable_error_types=[STEP_FAILED, INVALID_REQUEST])
_NODE_OPTIONS: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=60),
                                 "schedule_to_close_timeout": timedelta(minutes=5), "retry_policy": _RETRY}


class _StepError(Exception):
    def __init__(self, failure: SessionFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _step_failure(step: str, error: BaseException) -> SessionFailure:
    cause = error.cause if isinstance(error, ActivityError) and error.cause is not None else error
    if isinstance(cause, ApplicationError):
        detail = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        code = str(detail.get("code") or f"{step}_failed")
        return SessionFailure(code=code, message=f"{step}: {cause.message}")
    return SessionFailure(code=f"{step}_failed", message=f"{step}: {type(cause).__name__}")


@workflow.defn(name="Backup")
class BackupWorkflow:
    def __init__(self) -> None:
        self._progress = Progress(session_id="", operation="backup", status=SessionStatus.PENDING, current_round=0,
                                  total_rounds=0)
        self._searchable = False

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    def _set_status(self, status: SessionStatus) -> None:
        if self._searchable:
            workflow.upsert_search_attributes([OPERATION.value_set("backup"), STATUS.value_set(str(status))])

    @workflow.run
    async def run(self, request: BackupRequest) -> BackupSummary:
        backup_id = request.backup_id or str(workflow.uuid4())
        session_id = request.session_id or str(workflow.uuid4())
        try:
            plan: BackupPlan = await self._coordinator(
                "begin", Activity.BACKUP_BEGIN, BackupRequest(backup_id, session_id, request.requested_by), BackupPlan)
        except _StepError as failed:  # nothing recorded yet: the workflow's failure is all there is
            raise session_failed_error(failed.failure) from None
        self._progress = Progress(session_id, "backup", SessionStatus.RUNNING, 0, plan.total_steps)
        self._searchable = workflow.patched(SEARCH_ATTRIBUTES_PATCH)
        self._set_status(SessionStatus.RUNNING)
        try:
            return await self._steps(plan, request.requested_by)
        except (_StepError, SessionFailedError) as failed:
            failure = failed.failure
        except ActivityError as exc:  # recording progress failed
            failure = _step_failure("record", exc)
        self._progress.status, self._progress.error = SessionStatus.FAILED, failure
        self._set_status(SessionStatus.FAILED)
        try:
            await self._coordinator("fail", Activity.BACKUP_FAIL, FailBackupInput(backup_id, failure,
                                                                                 request.requested_by), None)
        except _StepError:
            workflow.logger.warning("backup %s failed and could not be marked failed", backup_id)
        raise session_failed_error(failure)

    async def _steps(self, plan: BackupPlan, requested_by: str) -> BackupSummary:
        step = BackupStep(plan.backup_id)
        await db.update_session(plan.session_id, status=SessionStatus.RUNNING, started=True, current_round=0,
                                total_rounds=plan.total_steps)
        await self._coordinator("pg_dump", Activity.BACKUP_DUMP_DATABASE, step, int, timeout=timedelta(hours=2))
        await self._advance(plan)
        await asyncio.gather(*(self._collect_meta(plan.backup_id, node) for node in plan.nodes))
        await self._advance(plan)
        escrow = await self._escrow(plan)
        await self._advance(plan)
        digest: ManifestDigest = await self._coordinator("manifest", Activity.BACKUP_SEAL_MANIFEST,
                                                         SealManifestInput(plan.backup_id, escrow), ManifestDigest)
        signature: ManifestSignatureResult = await self._api("sign_manifest", Activity.BACKUP_SIGN_MANIFEST, digest,
                                                             ManifestSignatureResult)
        summary: BackupSummary = await self._coordinator(
            "finish", Activity.BACKUP_FINISH, FinishBackupInput(plan.backup_id, signature), BackupSummary)
        self._progress.current_round, self._progress.status = plan.total_steps, SessionStatus.COMPLETED
        self._set_status(SessionStatus.COMPLETED)
        await db.update_session(plan.session_id, status=SessionStatus.COMPLETED, current_round=plan.total_steps,
                                finished=True)
        await db.audit("backup.completed", actor=requested_by, resource_type="backup", resource_id=plan.backup_id,
                       session_id=plan.session_id, size_bytes=summary.size_bytes, files=summary.file_count,
                       deleted=summary.deleted)
        return summary

    async def _advance(self, plan: BackupPlan) -> None:
        self._progress.current_round += 1
        await db.update_session(plan.session_id, current_round=self._progress.current_round)

    async def _collect_meta(self, backup_id: str, node: str) -> None:
        after, more = "", True
        while more:
            try:
                page: CollectMetaPage = await workflow.execute_activity(
                    Activity.BACKUP_COLLECT_META.value, CollectMetaRequest(backup_id, after),
                    result_type=CollectMetaPage, task_queue=participant_task_queue(node), **_NODE_OPTIONS)
            except ActivityError as exc:
                raise SessionFailedError(failure_from(node, exc)) from None
            await self._write(backup_id, node, page.files)
            more = page.more and bool(page.files)
            after = page.files[-1].path if page.files else after

    async def _escrow(self, plan: BackupPlan) -> dict[str, Any]:
        """Ask the API for export intents (none without a recovery key), then every holder for its share."""
        if not plan.keys:
            return {}
        intents: ExportIntents = await self._api("export_intents", Activity.BACKUP_EXPORT_INTENTS,
                                                 ExportIntentsInput(plan.backup_id, plan.keys), ExportIntents)
        if not intents.recipient:
            return {}
        calls: list[tuple[str, str, EscrowShareRequest]] = [
            (item.key_id, node, EscrowShareRequest(plan.backup_id, item.key_id, item.epoch, intents.recipient,
                                                   item.intent))
            for item in intents.intents if item.intent is not None for node in item.holders]
        results = await asyncio.gather(*(workflow.execute_activity(
            Activity.BACKUP_ESCROW_SHARE.value, call, result_type=BackupFile, task_queue=participant_task_queue(node),
            **_NODE_OPTIONS) for _key, node, call in calls), return_exceptions=True)
        for (_key, node, _call), result in zip(calls, results, strict=True):
            if isinstance(result, BaseException):
                raise SessionFailedError(failure_from(node, result))
        by_node: dict[str, list[BackupFile]] = {}
        for (_key, node, _call), result in zip(calls, results, strict=True):
            by_node.setdefault(node, []).append(result)  # type: ignore[arg-type]
        for node in sorted(by_node):
            await self._write(plan.backup_id, node, by_node[node])
        return {"recipient": intents.recipient,
                "keys": {item.key_id: ({"escrowed": item.holders} if item.intent is not None
                                       else {"skipped": item.skipped}) for item in intents.intents}}

    async def _write(self, backup_id: str, node: str, files: list[BackupFile]) -> None:
        batch: list[BackupFile] = []
        size = 0
        for item in [*files, None]:
            if item is None or (batch and size + len(item.content) > WRITE_BATCH_BYTES):
                if batch:
                    await self._coordinator("write_files", Activity.BACKUP_WRITE_FILES,
                                            WriteFilesInput(backup_id, node, batch), int)
                batch, size = [], 0
            if item is not None:
                batch.append(item)
                size += len(item.content)

    async def _coordinator(self, step: str, activity: Activity, arg: Any, result_type: type | None,
                           timeout: timedelta = timedelta(minutes=10)) -> Any:
        return await self._call(step, activity, arg, result_type, COORDINATOR_TASK_QUEUE, timeout)

    async def _api(self, step: str, activity: Activity, arg: Any, result_type: type) -> Any:
        return await self._call(step, activity, arg, result_type, API_TASK_QUEUE, timedelta(minutes=2))

    @staticmethod
    async def _call(step: str, activity: Activity, arg: Any, result_type: type | None, queue: str,
                    timeout: timedelta) -> Any:
        try:
            return await workflow.execute_activity(
                activity.value, arg, result_type=result_type, task_queue=queue, start_to_close_timeout=timeout,
                schedule_to_close_timeout=timeout * 3, retry_policy=_RETRY)
        except ActivityError as exc:
            raise _StepError(_step_failure(step, exc)) from None
