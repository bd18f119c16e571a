"""PingNodeWorkflow: checks that a participant's task queue is served, through Temporal itself.

Useful to an operator (`mpc nodes ping NODE`) and to readiness checks: a registered node whose
worker is not polling its queue fails here with a timeout naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity
    from mpc.queues import participant_task_queue


@dataclass
class PingInput:
    node_id: str
    timeout_seconds: float = 10.0


@dataclass
class PingResult:
    node_id: str
    signing_public_key: str
    encryption_public_key: str


@workflow.defn(name="PingNode")
class PingNodeWorkflow:
    @workflow.run
    async def run(self, request: PingInput) -> PingResult:
        return await workflow.execute_activity(
            Activity.PING.value,
            request,
            result_type=PingResult,
            task_queue=participant_task_queue(request.node_id),
            schedule_to_close_timeout=timedelta(seconds=request.timeout_seconds),
            retry_policy=RetryPolicy(maximum_attempts=2),
        )
