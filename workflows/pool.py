"""NoncePoolRefillWorkflow: keep a stock of FROST nonce commitments per signer, so that signing
needs a single online round. Nonces stay on their nodes; only signed commitments are pooled.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import Activity
    from workflows import coordinator_calls as db
    from workflows.driver import activity_options
    from workflows.types import (
        Party,
        PoolLevelsInput,
        PoolRefillRequest,
        PoolRefillResult,
        PreprocessRequest,
        PreprocessResult,
        RoundPolicy,
        StoreCommitmentsInput,
    )

PREPROCESS_ACTIVITY = Activity.FROST_PREPROCESS.value
NONCE_REFILL_TIMEOUT = timedelta(minutes=10)


def pool_workflow_id(key_id: str) -> str:
    return f"nonce-pool-{key_id}"


@workflow.defn(name="NoncePoolRefill")
class NoncePoolRefillWorkflow:
    @workflow.run
    async def run(self, request: PoolRefillRequest) -> PoolRefillResult:
        nodes = [p.node_id for p in request.parties]
        levels: dict[str, int] = await db.call(Activity.POOL_LEVELS.value, PoolLevelsInput(request.key_id, nodes), dict)
        wanted = {node: request.target - levels.get(node, 0) for node in nodes if levels.get(node, 0) < request.target}
        result = PoolRefillResult()

        async def refill(node: str, count: int) -> None:
            made: PreprocessResult = await workflow.execute_activity(
                PREPROCESS_ACTIVITY,
                PreprocessRequest(request_id=f"{workflow.info().run_id}-{node}", key_id=request.key_id, count=count),
                result_type=PreprocessResult, **activity_options(request.policy, node),
            )
            result.added[node] = await db.call(
                Activity.STORE_COMMITMENTS.value, StoreCommitmentsInput(request.key_id, node, made.commitments), int)

        outcomes = await asyncio.gather(*(refill(n, c) for n, c in wanted.items()), return_exceptions=True)
        # An offline node just stays short; the next refill tops it up.
        result.unavailable = sorted(n for n, o in zip(wanted, outcomes, strict=True) if isinstance(o, BaseException))
        return result


async def start_refill(key_id: str, parties: list[Party], target: int, policy: RoundPolicy) -> None:
    """Start a refill in the background (it outlives the caller); one at a time per key."""
    if target <= 0:
        return
    with contextlib.suppress(WorkflowAlreadyStartedError):  # a refill is already running for this key
        await workflow.start_child_workflow(
            NoncePoolRefillWorkflow.run, PoolRefillRequest(key_id, parties, target, policy),
            id=pool_workflow_id(key_id), parent_close_policy=ParentClosePolicy.ABANDON,
            execution_timeout=NONCE_REFILL_TIMEOUT,
        )
