"""ReshareCatchUpWorkflow: the part of a decided refresh or reshare that waits for nodes that were down.

After the commit point a change cannot be undone, so the session completes at once and names the
nodes it could not reach: a new holder that did not activate, an old holder that did not erase its
old epoch. This workflow, started by the session and outliving it, asks each of them again, patiently
(backoff up to CATCH_UP_MAX_INTERVAL, for up to CATCH_UP_PATIENCE): a node that comes back picks the
waiting activity up from its queue at once. Each node's outcome is an audit row
(`key.<operation>_catch_up`). The node checks everything itself as in the session (the ACK set and the
test signature; an old holder leaving the committee also the reshare intent under its pinned policy),
so this workflow can make no node do anything the session had not already authorised.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity
    from mpc.queues import participant_task_queue
    from workflows import coordinator_calls as db
    from workflows.driver import INVALID_REQUEST, PROTOCOL_VIOLATION, failure_from
    from workflows.types import ReshareCatchUpRequest, ReshareCatchUpResult, ReshareNodeResult

CATCH_UP_PATIENCE = timedelta(days=30)
CATCH_UP_MAX_INTERVAL = timedelta(minutes=15)


def catch_up_workflow_id(session_id: str) -> str:
    return f"reshare-catch-up-{session_id}"


@workflow.defn(name="ReshareCatchUp")
class ReshareCatchUpWorkflow:
    @workflow.run
    async def run(self, request: ReshareCatchUpRequest) -> ReshareCatchUpResult:
        nodes = sorted(set(request.activate) | set(request.retire))
        outcomes = await asyncio.gather(*(self._catch_up(request, node) for node in nodes))
        return ReshareCatchUpResult(caught_up=[n for n, ok in zip(nodes, outcomes, strict=True) if ok],
                                    refused=[n for n, ok in zip(nodes, outcomes, strict=True) if not ok])

    async def _catch_up(self, request: ReshareCatchUpRequest, node: str) -> bool:
        """Activation first: a holder that stays erases its old epoch only once its new one is active."""
        steps = [a for a, wanted in ((Activity.RESHARE_ACTIVATE, node in request.activate),
                                     (Activity.RESHARE_RETIRE, node in request.retire)) if wanted]
        try:
            for step in steps:
                await workflow.execute_activity(
                    step.value, request.step, result_type=ReshareNodeResult, task_queue=participant_task_queue(node),
                    start_to_close_timeout=timedelta(seconds=request.round_timeout_seconds),
                    schedule_to_close_timeout=CATCH_UP_PATIENCE,
                    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                             maximum_interval=CATCH_UP_MAX_INTERVAL, maximum_attempts=0,
                                             non_retryable_error_types=[PROTOCOL_VIOLATION, INVALID_REQUEST]))
        except ActivityError as error:
            await db.audit(f"key.{request.operation}_catch_up", actor=request.requested_by, resource_type="key",
                           resource_id=request.step.key_id, session_id=request.step.session_id, status="failure",
                           failure=failure_from(node, error), epoch=request.step.epoch)
            return False
        await db.audit(f"key.{request.operation}_catch_up", actor=request.requested_by, resource_type="key",
                       resource_id=request.step.key_id, session_id=request.step.session_id, epoch=request.step.epoch,
                       node=node, activated=node in request.activate, erased=node in request.retire)
        return True
