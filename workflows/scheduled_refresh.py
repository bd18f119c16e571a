"""ScheduledRefreshWorkflow: what a key's refresh Schedule starts (`PUT /v1/keys/{id}/refresh-schedule`).

A Schedule cannot carry a signed intent (intents expire within INTENT_TTL), so the workflow asks the API
process (its own task queue, `mpc-api`) to start the refresh as if an operator had asked: the API checks
the key, signs a fresh intent and starts the ReshareWorkflow; every node checks that intent as always.
The coordinator never holds the intent key.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity
    from mpc.queues import API_TASK_QUEUE
    from workflows.types import ScheduledRefreshRequest


@workflow.defn(name="ScheduledRefresh")
class ScheduledRefreshWorkflow:
    @workflow.run
    async def run(self, request: ScheduledRefreshRequest) -> str:
        """The refresh session id, or why none was started (`skipped: <code>`)."""
        return await workflow.execute_activity(
            Activity.START_SCHEDULED_REFRESH.value, request, result_type=str, task_queue=API_TASK_QUEUE,
            start_to_close_timeout=timedelta(seconds=60), schedule_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10,
                                     non_retryable_error_types=["InvalidRequest"]),
        )
