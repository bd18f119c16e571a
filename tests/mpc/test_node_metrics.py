"""The worker metrics (mpc/node_metrics.py) without a Temporal server: the interceptor's counts, pools,
the Vault hook, the SDK collector's merge, the metrics URL and the /metrics + /health server."""

from __future__ import annotations

import asyncio
import http.server
import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from mpc import node_metrics
from mpc.devstack.ports import free_port
from mpc.node_metrics import (
    MetricsServer,
    NodeMetrics,
    PoolLevels,
    RegistryCollector,
    TemporalSdkCollector,
    metrics_url,
)


@dataclass
class RoundInput:
    protocol: str


@dataclass
class Update:
    status: str
    finished: bool = True
    error: Any = None


class _Next(ActivityInboundInterceptor):
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def _run(metrics: NodeMetrics, outcome: Any, arg: Any, monkeypatch: pytest.MonkeyPatch,
         activity_type: str = "participant.protocol_round", workflow_type: str = "Sign") -> Any:
    monkeypatch.setattr(node_metrics.activity, "info",
                        lambda: SimpleNamespace(activity_type=activity_type, workflow_type=workflow_type))
    chain = metrics.interceptor().intercept_activity(_Next(outcome))
    return asyncio.run(chain.execute_activity(ExecuteActivityInput(fn=lambda: None, args=[arg], executor=None,
                                                                   headers={})))


def _sample(metrics: NodeMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _metrics() -> NodeMetrics:
    return NodeMetrics(node_id="node-1", node_type="participant", refusal_types=["InvalidRequest", "ProtocolViolation"],
                       activity_protocols={"participant.frost_sign": "frost-sign"})


def test_rounds_are_counted_and_timed_by_activity_and_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = _metrics()
    assert _run(metrics, "answer", RoundInput("frost-dkg"), monkeypatch) == "answer"
    _run(metrics, "share", object(), monkeypatch, activity_type="participant.frost_sign")
    labels = {"activity": "participant.protocol_round", "protocol": "frost-dkg"}
    assert _sample(metrics, "mpc_node_rounds_total", **labels, outcome="ok") == 1
    assert _sample(metrics, "mpc_node_round_duration_seconds_count", **labels) == 1
    assert _sample(metrics, "mpc_node_rounds_total", activity="participant.frost_sign", protocol="frost-sign",
                   outcome="ok") == 1


def test_refusals_are_counted_by_type_and_code_and_other_errors_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = _metrics()
    refusal = ApplicationError("expired", {"code": "intent_expired", "culprits": []}, type="InvalidRequest")
    with pytest.raises(ApplicationError):
        _run(metrics, refusal, RoundInput("gg20-sign"), monkeypatch)
    violation = ApplicationError("bad proof", {"code": "bad_proof", "culprits": ["node-2"]}, type="ProtocolViolation")
    with pytest.raises(ApplicationError):
        _run(metrics, violation, RoundInput("gg20-sign"), monkeypatch)
    with pytest.raises(ApplicationError):
        _run(metrics, ApplicationError("no detail", type="InvalidRequest"), RoundInput("gg20-sign"), monkeypatch)
    with pytest.raises(RuntimeError):
        _run(metrics, RuntimeError("vault down"), RoundInput("gg20-sign"), monkeypatch)
    refused = {"activity": "participant.protocol_round", "type": "InvalidRequest"}
    assert _sample(metrics, "mpc_node_refusals_total", **refused, code="intent_expired") == 1
    assert _sample(metrics, "mpc_node_refusals_total", **refused, code="unspecified") == 1
    assert _sample(metrics, "mpc_node_refusals_total", activity="participant.protocol_round", type="ProtocolViolation",
                   code="bad_proof") == 1
    round_labels = {"activity": "participant.protocol_round", "protocol": "gg20-sign"}
    assert _sample(metrics, "mpc_node_rounds_total", **round_labels, outcome="refused") == 3
    assert _sample(metrics, "mpc_node_rounds_total", **round_labels, outcome="error") == 1
    assert _sample(metrics, "mpc_node_round_duration_seconds_count", **round_labels) == 4


def test_finished_sessions_are_counted_once_with_their_code(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = _metrics()
    update = "coordinator.update_session"
    _run(metrics, None, Update("running", finished=False), monkeypatch, activity_type=update)
    _run(metrics, None, Update("completed"), monkeypatch, activity_type=update)
    _run(metrics, None, Update("failed", error=SimpleNamespace(code="round_timeout")), monkeypatch,
         activity_type=update, workflow_type="Keygen")
    with pytest.raises(RuntimeError):  # a write that failed is retried; it must not count yet
        _run(metrics, RuntimeError("db down"), Update("completed"), monkeypatch, activity_type=update)
    name = "mpc_coordinator_sessions_finished_total"
    assert _sample(metrics, name, workflow="Sign", status="completed", code="") == 1
    assert _sample(metrics, name, workflow="Keygen", status="failed", code="round_timeout") == 1
    assert _sample(metrics, name, workflow="Sign", status="running", code="") is None


def test_a_finishing_sign_step_counts_its_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """The FROST sign's one-transaction finish finishes its session like a finishing update (issue 12)."""
    from workflows.types import SignFinishInput

    metrics = _metrics()
    _run(metrics, None, SignFinishInput("s", "api", ["p1", "p2"], True), monkeypatch,
         activity_type="coordinator.frost_sign_finish")
    assert _sample(metrics, "mpc_coordinator_sessions_finished_total", workflow="Sign", status="completed",
                   code="") == 1


def test_sessions_ended_by_operation_protocol_curve_and_outcome() -> None:
    metrics = _metrics()
    metrics.session_ended(node_metrics.SessionEnded("sign", "frost", "ed25519", "completed", 0.04))
    metrics.session_ended(node_metrics.SessionEnded("sign", "frost", "ed25519", "failed", 1.5))
    metrics.session_ended(node_metrics.SessionEnded("keygen", "gg20", "secp256k1", "completed", 3.0))
    metrics.session_ended(node_metrics.SessionEnded("refresh", "frost", "ed25519", "completed", None))
    sign = {"operation": "sign", "protocol": "frost", "curve": "ed25519"}
    assert _sample(metrics, "mpc_sessions_total", **sign, outcome="completed") == 1
    assert _sample(metrics, "mpc_sessions_total", **sign, outcome="failed") == 1
    assert _sample(metrics, "mpc_session_duration_seconds_count", **sign, outcome="failed") == 1
    # The latency histograms hold completed signatures and keys only.
    assert _sample(metrics, "mpc_signing_latency_seconds_count", protocol="frost", curve="ed25519") == 1
    assert _sample(metrics, "mpc_keygen_latency_seconds_count", protocol="gg20", curve="secp256k1") == 1
    assert _sample(metrics, "mpc_sessions_total", operation="refresh", protocol="frost", curve="ed25519",
                   outcome="completed") == 1


def test_pools_vault_and_process_metrics() -> None:
    metrics = _metrics()

    def broken() -> int:
        raise OSError("disk")

    metrics.add(PoolLevels({"frost_nonces": lambda: 7, "gg20_presignatures": broken}))
    metrics.observe_vault("unwrap data key", 0.004, "ok")
    assert _sample(metrics, "mpc_node_pool_level", pool="frost_nonces") == 7
    assert _sample(metrics, "mpc_node_pool_level", pool="gg20_presignatures") is None  # absent, scrape still works
    assert _sample(metrics, "mpc_node_vault_call_seconds_count", action="unwrap data key", outcome="ok") == 1
    assert _sample(metrics, "process_resident_memory_bytes") > 0
    assert _sample(metrics, "mpc_node_info", node_id="node-1", node_type="participant") == 1


def test_vault_wrapper_reports_every_call_with_its_outcome() -> None:
    from mpc.keystore import VaultTransitWrapper
    from mpc.keystore.errors import VaultUnavailableError

    seen: list[tuple[str, float, str]] = []
    wrapper = VaultTransitWrapper(f"http://127.0.0.1:{free_port()}", "t", "mpc-node-1", timeout=1,
                                  observe=lambda *call: seen.append(call))
    with pytest.raises(VaultUnavailableError):
        wrapper.check()
    assert [(action, outcome) for action, _, outcome in seen] == [("check transit key", "VaultUnavailableError")]


class _SdkExporter(http.server.BaseHTTPRequestHandler):
    BODY = (b"# HELP temporal_num_pollers pollers\n# TYPE temporal_num_pollers gauge\n"
            b'temporal_num_pollers{task_queue="q"} 5\n'
            b"# TYPE temporal_activity_schedule_to_start_latency histogram\n"
            b'temporal_activity_schedule_to_start_latency_bucket{le="0.1"} 2\n'
            b'temporal_activity_schedule_to_start_latency_bucket{le="+Inf"} 3\n'
            b"temporal_activity_schedule_to_start_latency_sum 0.5\n"
            b"temporal_activity_schedule_to_start_latency_count 3\n")

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *_: Any) -> None:
        pass


def test_sdk_metrics_are_merged_and_missing_ones_do_not_break_the_scrape() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _SdkExporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        metrics = _metrics()
        metrics.add(TemporalSdkCollector(f"http://127.0.0.1:{server.server_port}/metrics"))
        text = metrics.exposition().decode()
        assert 'temporal_num_pollers{task_queue="q"} 5.0' in text
        assert 'temporal_activity_schedule_to_start_latency_bucket{le="+Inf"} 3.0' in text
    finally:
        server.shutdown()
    quiet = _metrics()
    quiet.add(TemporalSdkCollector(f"http://127.0.0.1:{free_port()}/metrics"))  # nothing listens
    assert b"mpc_node_info" in quiet.exposition()


def test_registry_collector_serves_a_second_registry() -> None:
    api = CollectorRegistry()
    Counter("mpc_http_requests", "x", registry=api).inc()
    worker = _metrics()
    api.register(RegistryCollector(worker.registry))
    text = generate_latest(api).decode()
    assert "mpc_http_requests_total 1.0" in text and "mpc_node_info" in text


def test_metrics_url() -> None:
    assert metrics_url(listen_address="127.0.0.1", port=9100) == "http://127.0.0.1:9100/metrics"
    assert metrics_url(listen_address="0.0.0.0", port=8080,
                       advertise_endpoint="https://node-2.node.mpc.svc:7000") == "http://node-2.node.mpc.svc:8080/metrics"
    assert metrics_url(listen_address="::1", port=8080) == "http://[::1]:8080/metrics"
    assert metrics_url(listen_address="0.0.0.0", port=8080).endswith(":8080/metrics")


def test_server_answers_metrics_and_health_and_names_a_busy_port() -> None:
    async def scenario() -> None:
        port = free_port()
        server = MetricsServer(_metrics(), host="127.0.0.1", port=port, health=lambda: {"worker": "polling"})
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                health = await client.get("/health")
                assert health.json() == {"status": "ok", "node_id": "node-1", "worker": "polling"}
                scrape = await client.get("/metrics")
                assert scrape.status_code == 200 and "mpc_node_info" in scrape.text
                assert scrape.headers["content-type"].startswith("text/plain")
            busy = MetricsServer(_metrics(), host="127.0.0.1", port=port)
            with pytest.raises(OSError, match="METRICS_PORT"):
                await busy.start()
        finally:
            await server.stop()

    asyncio.run(scenario())
