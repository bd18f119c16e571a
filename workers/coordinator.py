"""Coordinator worker: runs the workflows and the activities that touch the metadata database.

It never sees a share or a nonce: participants' round outputs reach it as ciphertext.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from mpc.codec import EncryptionCodec
from mpc.node_metrics import RegistryCollector
from mpc.queues import COORDINATOR_TASK_QUEUE
from mpc.settings import Settings
from mpc.temporal_client import connect
from workers.backup_schedule import ensure_backup_schedule
from workers.metrics import node_metrics, telemetry
from workers.registry import coordinator_activities, coordinator_workflows

log = logging.getLogger("mpc.worker.coordinator")



def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """Temporal's sandbox re-imports a workflow's modules for each run and runs every activation through
    its import hooks: 15-25 ms of the coordinator's time per session (bench/README.md, "Run 4"). It is a
    net for non-deterministic workflow code, not a security boundary, so production runs without it and
    the test suite runs with it (WORKFLOW_SANDBOX=true), as do the replay tests of recorded histories."""
    return SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()


async def run_coordinator(settings: Settings, codec: EncryptionCodec, stop: asyncio.Event | None = None, *,
                          metrics_into: CollectorRegistry | None = None) -> None:
    """`metrics_into`: the API's registry where one process runs both on one port (`mpc serve`): the
    worker's metrics then join the API's /metrics instead of a server of their own on METRICS_PORT."""
    metrics = node_metrics(settings)
    if metrics_into is not None:
        metrics_into.register(RegistryCollector(metrics.registry))
    async with telemetry(settings, metrics, serve=metrics_into is None) as telemetered:
        client = await connect(settings.temporal_address, settings.temporal_namespace, codec,
                               runtime=telemetered.runtime)
        await ensure_backup_schedule(client, settings.backup_schedule)
        activities, close = await coordinator_activities(settings, on_end=metrics.session_ended)
        try:
            worker = Worker(
                client,
                task_queue=COORDINATOR_TASK_QUEUE,
                workflows=coordinator_workflows(),
                activities=activities,
                max_concurrent_activities=settings.max_concurrent_sessions,
                max_concurrent_workflow_tasks=settings.max_concurrent_sessions,
                interceptors=[metrics.interceptor()],
                workflow_runner=workflow_runner(settings.workflow_sandbox),
            )
            log.info("coordinator worker polling", extra={"service": "coordinator"})
            async with worker:
                await (stop or asyncio.Event()).wait()
        finally:
            await close()
