"""Typed calls from workflows to the coordinator's database activities."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity
    from workflows.types import AuditInput, SessionFailure, SessionUpdate

# Bounded (about a minute of backoff): a coordinator activity that keeps failing fails the session instead of
# retrying forever (SECURITY.md A5, table row 21).
DB_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10),
                       maximum_attempts=10,
                       non_retryable_error_types=["UnknownSession", "UnknownKey", "InvalidRequest",
                                                  "ProtocolViolation", "VerificationFailed"])


async def call(activity: str, arg: Any, result_type: type | None = None, timeout: float = 30.0) -> Any:
    """Run a coordinator activity as a local activity: on the coordinator worker that runs the workflow,
    without a task-queue hand-off. These are short database writes and public computations; a signature
    needs five of them, and as regular activities each cost a full Temporal round trip."""
    return await workflow.execute_local_activity(
        activity, arg, result_type=result_type, start_to_close_timeout=timedelta(seconds=timeout),
        retry_policy=DB_RETRY,
    )


async def update_session(session_id: str, **changes: Any) -> None:
    await call(Activity.UPDATE_SESSION.value, SessionUpdate(session_id=session_id, **changes))


async def audit(action: str, *, actor: str, resource_type: str, resource_id: str | None, session_id: str | None,
                status: str = "success", failure: SessionFailure | None = None, **details: Any) -> None:
    if failure is not None:
        details.update({"error_code": failure.code, "node": failure.node, "message": failure.message,
                        "reported_by": failure.reported_by})
    await call(Activity.AUDIT.value, AuditInput(actor=actor, action=action, resource_type=resource_type,
                                               resource_id=resource_id, session_id=session_id, status=status,
                                               details=details))
