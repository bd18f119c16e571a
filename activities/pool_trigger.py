"""Start a pool refill (FROST nonces, GG20 presignatures) from the coordinator's finishing step, without
waiting for it.

Why not a child workflow of the sign session: starting one holds the session open for another round trip
through Temporal (10-25 ms, and a workflow task of its own) after its signature is verified. Started here,
the refill begins while the session completes. Not being durable costs little: if the coordinator dies
before the start, the pool stays low and the next signature's claim asks again; an empty pool only means
the session makes its own nonces (FROST: a commitment round) or presignature (GG20) first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from mpc.background import in_background
from mpc.queues import COORDINATOR_TASK_QUEUE
from workflows.pool import NONCE_REFILL_TIMEOUT, NoncePoolRefillWorkflow, pool_workflow_id
from workflows.presign_pool import PRESIGN_REFILL_TIMEOUT, PresignPoolRefillWorkflow, presign_pool_workflow_id
from workflows.types import PoolRefillRequest, PresignRefillRequest

log = logging.getLogger("mpc.coordinator.pool")


def start_refill_in_background(request: PoolRefillRequest) -> None:
    """From inside a coordinator activity: start the key's nonce refill (one at a time per key), return at once."""
    if request.target > 0:
        in_background(_start(activity.client(), request))


def start_presign_refill_in_background(request: PresignRefillRequest) -> None:
    """The same for a GG20 presignature pool (one refill at a time per key and signer set)."""
    if request.target > 0:
        in_background(_start_presign(activity.client(), request))


async def _start(client: Client, request: PoolRefillRequest) -> None:
    await _started(request.key_id, client.start_workflow(
        NoncePoolRefillWorkflow.run, request, id=pool_workflow_id(request.key_id),
        task_queue=COORDINATOR_TASK_QUEUE, execution_timeout=NONCE_REFILL_TIMEOUT))


async def _start_presign(client: Client, request: PresignRefillRequest) -> None:
    await _started(request.key_id, client.start_workflow(
        PresignPoolRefillWorkflow.run, request, id=presign_pool_workflow_id(request.key_id,
                                                                             [p.node_id for p in request.signers]),
        task_queue=COORDINATOR_TASK_QUEUE, execution_timeout=PRESIGN_REFILL_TIMEOUT))


async def _started(key_id: str, start: Awaitable[object]) -> None:
    try:
        await start
    except WorkflowAlreadyStartedError:
        pass  # a refill is running for this pool
    except Exception as exc:  # logged; the next signature asks again
        log.warning("pool refill not started", extra={"key_id": key_id, "error": type(exc).__name__})
