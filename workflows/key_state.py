"""KeyStateWorkflow: disable, enable or archive a key on every holder (each node then enforces it itself).

Disable marks the key `disabled` in the database first (the API stops at once), then asks every
holder; a holder that cannot be reached fails the session naming it, and the ones reached stay
disabled (the safe direction). Enable asks every holder first and marks the key `active` only
when all of them enabled it. Archive marks the key `archived` first (it never signs again) and has
every holder erase its share; a holder not reached fails the session naming it, and a repeated
archive request erases what is left.
"""

from __future__ import annotations

import dataclasses
from typing import NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity, SessionStatus
    from workflows import coordinator_calls as db
    from workflows.approvals import AwaitsApprovals
    from workflows.driver import SessionFailedError, run_on_nodes, session_failed_error
    from workflows.search import set_status
    from workflows.types import (
        FinishKeyInput,
        KeyStateCall,
        KeyStateRequest,
        KeyStateResult,
        Progress,
        SessionFailure,
    )


@workflow.defn(name="KeyState")
class KeyStateWorkflow(AwaitsApprovals):
    def __init__(self) -> None:
        super().__init__()
        self._progress = Progress(session_id="", operation="disable", status=SessionStatus.PENDING, current_round=0,
                                  total_rounds=1)

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, request: KeyStateRequest) -> list[str]:
        operation = request.operation
        if request.approvals_needed > 0 and request.intent is not None:
            outcome = await self._await_approvers(request.session_id, operation, request.intent,
                                                  request.approvals_needed, request.approval_timeout_seconds,
                                                  total_rounds=1)
            if isinstance(outcome, SessionFailure):
                await self._fail(request, operation, outcome)
            request = dataclasses.replace(request, intent=outcome)
        self._progress = Progress(request.session_id, operation, SessionStatus.RUNNING, 1, 1)
        set_status(SessionStatus.RUNNING)
        await db.update_session(request.session_id, status=SessionStatus.RUNNING, total_rounds=1, current_round=1,
                                started=True)
        if not request.enabled:
            status = "archived" if request.archive else "disabled"
            await db.call(Activity.FINISH_KEY.value, FinishKeyInput(request.key_id, status))
        nodes = [p.node_id for p in request.parties]
        call = KeyStateCall(request.session_id, request.key_id, request.enabled, request.intent)
        activity = Activity.ARCHIVE_KEY if request.archive else Activity.SET_KEY_STATE
        try:
            await run_on_nodes(activity.value, nodes, lambda _n: call, KeyStateResult, request.policy)
        except SessionFailedError as failed:
            await self._fail(request, operation, failed.failure)
        if request.enabled:
            await db.call(Activity.FINISH_KEY.value, FinishKeyInput(request.key_id, "active"))
        self._progress.status = SessionStatus.COMPLETED
        set_status(SessionStatus.COMPLETED)
        await db.update_session(request.session_id, status=SessionStatus.COMPLETED, finished=True)
        await db.audit(f"key.{operation}", actor=request.requested_by, resource_type="key",
                       resource_id=request.key_id, session_id=request.session_id, nodes=nodes)
        return nodes

    async def _fail(self, request: KeyStateRequest, operation: str, failure: SessionFailure) -> NoReturn:
        self._progress.status, self._progress.error = SessionStatus.FAILED, failure
        set_status(SessionStatus.FAILED)
        await db.update_session(request.session_id, status=SessionStatus.FAILED, error=failure, finished=True)
        await db.audit(f"key.{operation}", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                       session_id=request.session_id, status="failure", failure=failure)
        raise session_failed_error(failure) from None
