"""Metrics of a worker process: which pools a participant counts, which errors are refusals, and the
process's metrics server and Temporal runtime (mpc/node_metrics.py has the parts)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from temporalio.runtime import Runtime

from activities.ecdsa_node import PREPARAMS_POOL, PRESIG_ONCE, preparams_generated_on_request
from activities.frost_signing import NONCES
from activities.node_services import NodeServices
from mpc.node_metrics import (
    MetricsServer,
    NodeMetrics,
    PoolLevels,
    ScrapedCounters,
    TemporalSdkCollector,
    free_loopback_port,
    metrics_url,
    sdk_runtime,
)
from mpc.protocols import Activity
from mpc.settings import Settings
from workflows.driver import INVALID_REQUEST, PROTOCOL_VIOLATION

log = logging.getLogger("mpc.metrics")

REFUSAL_TYPES = (INVALID_REQUEST, PROTOCOL_VIOLATION)
POOLS = {"frost_nonces": NONCES, "gg20_presignatures": PRESIG_ONCE, "paillier_preparams": PREPARAMS_POOL}
"""Pool label -> the node's one-time namespace (activities/frost_signing.py, activities/ecdsa_node.py)."""


ACTIVITY_PROTOCOLS = {Activity.FROST_PREPROCESS.value: "frost-preprocess", Activity.FROST_SIGN.value: "frost-sign"}
"""The protocol label of the FROST signing activities, whose inputs name no session protocol."""


def node_metrics(settings: Settings) -> NodeMetrics:
    return NodeMetrics(node_id=settings.node_id, node_type=str(settings.node_type), refusal_types=REFUSAL_TYPES,
                       activity_protocols=ACTIVITY_PROTOCOLS)


def pool_counters(services: NodeServices) -> dict[str, Callable[[], int]]:
    """Pool label -> how many one-time secrets it holds now (a directory listing on the node's disk)."""
    def counter(namespace: str) -> Callable[[], int]:
        return lambda: len(services.state.one_time_ids(namespace))

    return {pool: counter(namespace) for pool, namespace in POOLS.items()}


def pool_levels(services: NodeServices) -> dict[str, int]:
    """Every pool's level now: what the node's heartbeat reports (`mpc nodes list`)."""
    return {pool: count() for pool, count in pool_counters(services).items()}


def count_pools(metrics: NodeMetrics, services: NodeServices, generated_in_background: Callable[[], int]) -> None:
    """``mpc_node_pool_level{pool}`` and ``mpc_node_preparams_generated_total{path}``: pre-parameter sets
    made by the background filler (`generated_in_background`) or, the pool being empty, on a keygen's path."""
    metrics.add(PoolLevels(pool_counters(services)))
    node_id = services.node_id
    metrics.add(ScrapedCounters(
        "mpc_node_preparams_generated", "Pre-parameter sets this node generated, in the background filler or "
        "on a request's path (the pool was empty)", "path",
        {"background": generated_in_background, "request": lambda: preparams_generated_on_request(node_id)}))


@dataclass
class Telemetry:
    metrics: NodeMetrics
    runtime: Runtime
    url: str
    """This process's metrics URL as a node registers it (empty where it has no server of its own)."""


@contextlib.asynccontextmanager
async def telemetry(settings: Settings, metrics: NodeMetrics, *, serve: bool = True) -> AsyncIterator[Telemetry]:
    """The Temporal runtime with its SDK metrics merged into `metrics`, and (when `serve`) the
    /metrics + /health server on METRICS_PORT for the life of the block."""
    sdk_port = free_loopback_port()
    runtime = sdk_runtime(sdk_port)
    metrics.add(TemporalSdkCollector(f"http://127.0.0.1:{sdk_port}/metrics"))
    if not serve:
        yield Telemetry(metrics, runtime, "")
        return
    server = MetricsServer(metrics, host=settings.listen_address, port=settings.metrics_port)
    await server.start()
    url = metrics_url(listen_address=settings.listen_address, port=settings.metrics_port,
                      advertise_endpoint=settings.advertise_endpoint)
    log.info("metrics at %s", url, extra={"node_id": settings.node_id})
    try:
        yield Telemetry(metrics, runtime, url)
    finally:
        await server.stop()
