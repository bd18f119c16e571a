"""Prometheus metrics of the worker processes (participants and the coordinator worker).

Each worker serves ``/metrics`` and ``/health`` on METRICS_PORT. What it exposes:

- ``mpc_node_rounds_total`` / ``mpc_node_round_duration_seconds``: every activity the worker ran, by
  activity name, protocol (the input's ``protocol`` field where it has one) and outcome. Counted by a
  Temporal worker interceptor (`MetricsInterceptor`), so no activity module knows about metrics.
- ``mpc_node_refusals_total``: activities that ended in an `ApplicationError` of a refusal type
  (``InvalidRequest``, ``ProtocolViolation``), by type and the ``code`` of its first detail.
- ``mpc_node_vault_call_seconds``: every Vault transit call of the keystore (`observe_vault`).
- ``mpc_node_pool_level``: one-time secrets ready per pool, counted on the node's own disk at scrape time.
- ``mpc_node_preparams_generated_total``: pre-parameter sets a participant generated, by ``path``
  (``background``: its filler; ``request``: on a keygen's path because the pool was empty).
- ``process_*``: CPU seconds, resident memory, open files of the worker process.
- ``temporal_*``: the Temporal SDK's own worker metrics (task slots, poll and schedule-to-start latency,
  ...). The SDK's Rust core serves them on a loopback-only port of its own (`sdk_runtime`); the
  `TemporalSdkCollector` reads that endpoint at each scrape and merges it into ``/metrics``, so every
  process is one scrape target and the SDK port is never exposed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

log = logging.getLogger("mpc.metrics")

ROUND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
VAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
SDK_SCRAPE_TIMEOUT = 2.0


SESSION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass(frozen=True)
class SessionEnded:
    """A session whose row became final: what its metrics are labelled with."""

    operation: str
    protocol: str
    curve: str
    outcome: str  # completed or failed
    seconds: float | None  # the row's duration (start to end)


class NodeMetrics:
    """The metrics of one worker process, in their own registry (tests build several in one process)."""

    def __init__(self, *, node_id: str, node_type: str, refusal_types: Sequence[str] = (),
                 activity_protocols: Mapping[str, str] | None = None) -> None:
        """`activity_protocols`: the protocol label of activities whose input has no ``protocol`` field."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.node_id = node_id
        self.refusal_types = frozenset(refusal_types)
        self.activity_protocols = dict(activity_protocols or {})
        r = self.registry
        self.info = Gauge("mpc_node_info", "This worker process (always 1)", ["node_id", "node_type"], registry=r)
        self.info.labels(node_id, node_type).set(1)
        self.rounds = Counter("mpc_node_rounds", "Activities (protocol rounds) this worker ran",
                              ["activity", "protocol", "outcome"], registry=r)
        self.round_seconds = Histogram("mpc_node_round_duration_seconds", "Time this worker spent in an activity",
                                       ["activity", "protocol"], buckets=ROUND_BUCKETS, registry=r)
        self.refusals = Counter("mpc_node_refusals", "Requests this worker refused, by error type and code",
                                ["activity", "type", "code"], registry=r)
        self.sessions = Counter("mpc_coordinator_sessions_finished",
                                "Sessions the coordinator recorded as finished, by workflow, status and error code",
                                ["workflow", "status", "code"], registry=r)
        # Where sessions end (the coordinator's database step), whether or not a client waited (issue 12 part 6).
        self.sessions_ended = Counter("mpc_sessions", "Sessions ended, by operation, protocol, curve and outcome",
                                      ["operation", "protocol", "curve", "outcome"], registry=r)
        self.session_seconds = Histogram("mpc_session_duration_seconds", "Session start to end, by operation, "
                                         "protocol, curve and outcome", ["operation", "protocol", "curve", "outcome"],
                                         buckets=SESSION_BUCKETS, registry=r)
        self.sign_latency = Histogram("mpc_signing_latency_seconds", "Time from sign request to signature",
                                      ["protocol", "curve"], buckets=SESSION_BUCKETS, registry=r)
        self.keygen_latency = Histogram("mpc_keygen_latency_seconds", "Time from keygen request to key",
                                        ["protocol", "curve"], buckets=SESSION_BUCKETS, registry=r)
        self.vault_seconds = Histogram("mpc_node_vault_call_seconds", "Vault transit calls of the keystore",
                                       ["action", "outcome"], buckets=VAULT_BUCKETS, registry=r)
        ProcessCollector(registry=r)

    def session_ended(self, ended: SessionEnded) -> None:
        """The coordinator's hook where a session's row becomes final (activities/coordinator.py)."""
        labels = (ended.operation, ended.protocol, ended.curve, ended.outcome)
        self.sessions_ended.labels(*labels).inc()
        if ended.seconds is not None:
            self.session_seconds.labels(*labels).observe(ended.seconds)
            if ended.outcome == "completed" and ended.operation in ("sign", "keygen"):
                latency = self.sign_latency if ended.operation == "sign" else self.keygen_latency
                latency.labels(ended.protocol, ended.curve).observe(ended.seconds)

    def observe_vault(self, action: str, seconds: float, outcome: str) -> None:
        """The keystore's Vault hook (`VaultTransitWrapper(observe=...)`)."""
        self.vault_seconds.labels(action, outcome).observe(seconds)

    def add(self, collector: Collector) -> None:
        self.registry.register(collector)

    def interceptor(self) -> MetricsInterceptor:
        return MetricsInterceptor(self)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# ---- activities: a worker interceptor ---------------------------------------------------------


class MetricsInterceptor(Interceptor):
    """Times and counts every activity of the worker it is installed on (`Worker(interceptors=[...])`)."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityMetrics(next, self.metrics)


def _protocol_of(args: Sequence[Any], default: str) -> str:
    value = getattr(args[0], "protocol", None) if args else None
    return str(getattr(value, "value", value)) if value else default


def _code_of(error: ApplicationError) -> str:
    details = error.details
    first = details[0] if details else None
    code = first.get("code") if isinstance(first, Mapping) else None
    return str(code) if code else "unspecified"


class _ActivityMetrics(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: NodeMetrics) -> None:
        super().__init__(next)
        self.metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        name = info.activity_type
        protocol = _protocol_of(input.args, self.metrics.activity_protocols.get(name, "none"))
        started, outcome = time.perf_counter(), "ok"
        try:
            result = await super().execute_activity(input)
        except ApplicationError as exc:
            outcome = "refused" if exc.type in self.metrics.refusal_types else "error"
            if outcome == "refused":
                self.metrics.refusals.labels(name, exc.type or "", _code_of(exc)).inc()
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            self.metrics.rounds.labels(name, protocol, outcome).inc()
            self.metrics.round_seconds.labels(name, protocol).observe(time.perf_counter() - started)
        self._count_finished_session(info, input.args)
        return result

    def _count_finished_session(self, info: activity.Info, args: Sequence[Any]) -> None:
        """A coordinator's session update that finishes a session: one outcome per session, counted once
        the row is written (a retried write counts once, as only the successful attempt gets here)."""
        change = args[0] if args else None
        status = getattr(change, "status", None)
        if not getattr(change, "finished", False) or not status:
            return
        error = getattr(change, "error", None)
        code = str(getattr(error, "code", "") or "") if error is not None else ""
        status = str(getattr(status, "value", status))
        self.metrics.sessions.labels(info.workflow_type or "", status, code).inc()


# ---- pools: counted at scrape time ------------------------------------------------------------


class PoolLevels(Collector):
    """``mpc_node_pool_level{pool}``: how many one-time secrets each pool holds now."""

    def __init__(self, pools: Mapping[str, Callable[[], int]]) -> None:
        self.pools = dict(pools)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("mpc_node_pool_level", "One-time secrets ready on this node, by pool",
                                   labels=["pool"])
        for pool, count in self.pools.items():
            try:
                family.add_metric([pool], float(count()))
            except Exception:  # a disk hiccup must not break the scrape; the pool is then absent
                log.warning("pool %s could not be counted", pool, exc_info=True)
        yield family


class ScrapedCounters(Collector):
    """A counter family whose values are read at scrape time from the code that counts (one label)."""

    def __init__(self, name: str, documentation: str, label: str, values: Mapping[str, Callable[[], int]]) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.values = dict(values)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, count in self.values.items():
            family.add_metric([value], float(count()))
        yield family


# ---- the Temporal SDK's metrics ---------------------------------------------------------------


def sdk_runtime(port: int) -> Runtime:
    """A Temporal runtime whose Prometheus exporter listens on 127.0.0.1:`port` only (merged by
    `TemporalSdkCollector`). Durations in seconds, counters with ``_total``, as Prometheus expects."""
    prometheus = PrometheusConfig(bind_address=f"127.0.0.1:{port}", counters_total_suffix=True,
                                  durations_as_seconds=True)
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


class TemporalSdkCollector(Collector):
    """Re-exports the SDK exporter's families (it runs in the Rust core, outside prometheus_client)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self.url, timeout=SDK_SCRAPE_TIMEOUT) as reply:  # noqa: S310 - loopback
                text = reply.read().decode()
        except OSError:
            return  # not up yet (first poll) or shutting down: the families are absent from this scrape
        yield from text_string_to_metric_families(text)

    def describe(self) -> Iterable[Metric]:
        return []  # families vary with the worker's activity; do not collect() at registration


class RegistryCollector(Collector):
    """Another registry's families, for a process that serves two registries at one /metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.source = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()

    def describe(self) -> Iterable[Metric]:
        return []


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- /metrics and /health -----------------------------------------------------------------------


def metrics_url(*, listen_address: str, port: int, advertise_endpoint: str = "") -> str:
    """The URL a node registers for its metrics: the host of ADVERTISE_ENDPOINT when set, else the
    listen address, else (listening on every interface) this host's name."""
    host = urlsplit(advertise_endpoint).hostname if advertise_endpoint else None
    if not host:
        host = listen_address if listen_address not in ("0.0.0.0", "::", "") else socket.gethostname()  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/metrics"


class MetricsServer:
    """A small HTTP server (uvicorn + Starlette) for ``/metrics`` and ``/health`` inside a worker."""

    def __init__(self, metrics: NodeMetrics, *, host: str, port: int,
                 health: Callable[[], Mapping[str, Any]] | None = None) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def scrape(_: Any) -> Response:
            body = await asyncio.to_thread(metrics.exposition)
            return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

        async def alive(_: Any) -> JSONResponse:
            return JSONResponse({"status": "ok", "node_id": metrics.node_id, **(health() if health else {})})

        app = Starlette(routes=[Route("/metrics", scrape), Route("/health", alive)])
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve in the background; raises if the port cannot be bound (a clear start-up failure)."""
        self._task = asyncio.create_task(self._serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises the OSError below
                raise OSError("METRICS_PORT: the metrics server stopped during start-up")
            await asyncio.sleep(0.02)

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit:  # uvicorn exits the process when it cannot bind; a worker reports it instead
            config = self.server.config
            raise OSError(f"METRICS_PORT: cannot listen on {config.host}:{config.port} (in use?)") from None

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


__all__ = ["MetricsInterceptor", "MetricsServer", "NodeMetrics", "PoolLevels", "RegistryCollector", "ScrapedCounters",
           "TemporalSdkCollector",
           "free_loopback_port", "metrics_url", "sdk_runtime"]
