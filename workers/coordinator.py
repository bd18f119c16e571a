"""Coordinator worker: runs the workflows and the activities that touch the metadata database.

It never sees a share or a nonce: participants' round outputs reach it as ciphertext.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.worker import Worker

from mpc.codec import EncryptionCodec
from mpc.queues import COORDINATOR_TASK_QUEUE
from mpc.settings import Settings
from mpc.temporal_client import connect
from workers.registry import coordinator_activities, coordinator_workflows

log = logging.getLogger("mpc.worker.coordinator")


async def run_coordinator(settings: Settings, codec: EncryptionCodec, stop: asyncio.Event | None = None) -> None:
    client = await connect(settings.temporal_address, settings.temporal_namespace, codec)
    activities, close = await coordinator_activities(settings)
    try:
        worker = Worker(
            client,
            task_queue=COORDINATOR_TASK_QUEUE,
            workflows=coordinator_workflows(),
            activities=activities,
            max_concurrent_activities=settings.max_concurrent_sessions,
            max_concurrent_workflow_tasks=settings.max_concurrent_sessions,
        )
        log.info("coordinator worker polling", extra={"service": "coordinator"})
        async with worker:
            await (stop or asyncio.Event()).wait()
    finally:
        await close()
