"""Waiting for a key policy's human approvers inside a workflow (issue 9 part 5).

The workflow holds the intent bytes, counts distinct approvers' decisions delivered by the `approve`
signal (the API checked each signature first; every node checks them again) and waits until the
quorum, a rejection, or APPROVAL_TIMEOUT. The approvals then travel with the intent to the nodes.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import SessionStatus
    from workflows import coordinator_calls as db
    from workflows.search import set_status
    from workflows.types import (
        ApprovalSignal,
        ApprovalState,
        IntentApproval,
        Progress,
        SessionFailure,
        SessionIntent,
    )


class ApprovalWait:
    def __init__(self) -> None:
        self._approvals: dict[str, IntentApproval] = {}
        self._rejected_by: str | None = None
        self._intent = ""
        self._needed = 0
        self._waiting = False

    def state(self) -> ApprovalState:
        return ApprovalState(self._intent, self._needed, list(self._approvals.values()), self._rejected_by)

    def decide(self, decision: ApprovalSignal) -> None:
        """Counted only while waiting; each approver once; the first rejection ends the wait."""
        if not self._waiting or self._rejected_by is not None:
            return
        if decision.reject:
            self._rejected_by = decision.public_key
        else:
            self._approvals[decision.public_key] = IntentApproval(decision.public_key, decision.signature)

    async def wait(self, intent: SessionIntent, needed: int, timeout_seconds: float) -> SessionIntent | SessionFailure:
        """The intent with its approvals, or why the session must fail (`approval_timeout`, `rejected`)."""
        self._intent, self._needed, self._waiting = intent.intent, needed, True
        try:
            await workflow.wait_condition(lambda: self._rejected_by is not None or len(self._approvals) >= needed,
                                          timeout=timedelta(seconds=timeout_seconds))
        except TimeoutError:
            return SessionFailure("approval_timeout",
                                  f"{len(self._approvals)} of {needed} approvals within {timeout_seconds:g} s")
        finally:
            self._waiting = False
        if self._rejected_by is not None:
            return SessionFailure("rejected", f"approver {self._rejected_by[:16]} rejected the request")
        return dataclasses.replace(intent, approvals=sorted(self._approvals.values(), key=lambda a: a.public_key))


class AwaitsApprovals:
    """Base of the workflows whose session may wait for approvers: the `approve` signal, the
    `approval_state` query, and entering `awaiting_approval` (progress, search attribute, session row)."""

    _progress: Progress

    def __init__(self) -> None:
        self._approval = ApprovalWait()

    @workflow.query(name="approval_state")
    def approval_state(self) -> ApprovalState:
        return self._approval.state()

    @workflow.signal(name="approve")
    def approve(self, decision: ApprovalSignal) -> None:
        self._approval.decide(decision)

    async def _await_approvers(self, session_id: str, operation: str, intent: SessionIntent, needed: int,
                               timeout_seconds: float, total_rounds: int) -> SessionIntent | SessionFailure:
        self._progress = Progress(session_id, operation, SessionStatus.AWAITING_APPROVAL, 0, total_rounds)
        set_status(SessionStatus.AWAITING_APPROVAL)
        await db.update_session(session_id, status=SessionStatus.AWAITING_APPROVAL)
        return await self._approval.wait(intent, needed, timeout_seconds)
