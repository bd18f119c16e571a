"""Participant worker: one per node. Serves `mpc-participant-<node_id>` with the protocol-round
activities, keeps its shares in its own encrypted keystore, registers with the API and heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import resource

from temporalio.worker import Worker

from activities.ecdsa_protocols import ECDSA_MODULUS_BITS
from mpc.codec import EncryptionCodec
from mpc.queues import participant_task_queue
from mpc.settings import Settings
from mpc.temporal_client import connect
from mpc.tls_client import httpx_tls
from workers.background_rounds import NicedRounds
from workers.metrics import Telemetry, count_pools, node_metrics, pool_levels, telemetry
from workers.node_context import NodeContext
from workers.nonce_epoch import apply_remote_epoch, fetch_remote_epoch
from workers.preparams_filler import PreParamsFiller
from workers.registration import Registrar

log = logging.getLogger("mpc.worker.participant")

API_VERSION = "0.1.0"


def disable_core_dumps() -> None:
    """RLIMIT_CORE = 0, soft and hard, so a crash never writes the process memory (key shares, nonces,
    the keystore's unwrapped keys) to a core file; the hard limit keeps any later code from raising it."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def run_participant(settings: Settings, codec: EncryptionCodec, stop: asyncio.Event | None = None) -> None:
    disable_core_dumps()  # before any share or identity key is loaded
    stop = stop or asyncio.Event()
    metrics = node_metrics(settings)
    node = NodeContext.open(settings, observe_vault=metrics.observe_vault)
    filler = PreParamsFiller(node.services.state, target=settings.preparams_pool_target,
                             workers=settings.preparams_pool_workers, bits=ECDSA_MODULUS_BITS)
    count_pools(metrics, node.services, lambda: filler.generated)
    rounds = NicedRounds(settings.presign_refill_niceness) if settings.presign_refill_niceness > 0 else None
    node.services.background_rounds = rounds
    try:
        async with telemetry(settings, metrics) as telemetered:
            await _serve(settings, codec, stop, node, telemetered, filler)
    finally:
        if rounds is not None:
            await asyncio.to_thread(rounds.close)  # kills the worker process


async def _serve(settings: Settings, codec: EncryptionCodec, stop: asyncio.Event, node: NodeContext,
                 telemetered: Telemetry, filler: PreParamsFiller) -> None:
    public = node.identity_public()
    registrar = Registrar(
        api_url=settings.coordinator_endpoint,
        api_token=settings.api_token.get_secret_value(),
        node_id=settings.node_id,
        signing_public_key=public.ed25519,
        encryption_public_key=public.x25519,
        sign=node.sign,
        capabilities=node.capabilities(),
        endpoint=settings.advertise_endpoint,
        version=API_VERSION,
        metrics_url=telemetered.url,
        tls=httpx_tls(settings),
        pool_levels=lambda: pool_levels(node.services),
    )
    # SECURITY.md N4: a node restored from a snapshot voids its old nonces before it serves any round.
    remote = await fetch_remote_epoch(settings.coordinator_endpoint, settings.api_token.get_secret_value(),
                                      settings.node_id, stop, tls=httpx_tls(settings))
    if remote is None:
        return
    apply_remote_epoch(node.services.state, remote)
    client = await connect(settings.temporal_address, settings.temporal_namespace, codec, runtime=telemetered.runtime)
    worker = Worker(
        client,
        task_queue=participant_task_queue(settings.node_id),
        activities=node.activities(),
        max_concurrent_activities=settings.max_concurrent_sessions,
        interceptors=[telemetered.metrics.interceptor()],
    )
    log.info("participant worker polling", extra={"node_id": settings.node_id, "fingerprint": public.fingerprint})
    heartbeats = asyncio.create_task(registrar.run(settings.heartbeat_interval, stop))
    # After the epoch is applied: sets sealed under a token about to be voided would be lost.
    filling = asyncio.create_task(filler.run(stop))
    try:
        async with worker:
            await stop.wait()
    finally:
        stop.set()
        await heartbeats
        await filling  # kills the filler's worker processes
