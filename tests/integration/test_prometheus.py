"""A real Prometheus (Debian's package) scrapes the running stack after a handful of signatures; every
PromQL expression of the Grafana board and of the alert rules evaluates without error, and the ones a
signing stack must feed return data."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpc.devstack.ports import free_port
from mpc.devstack.prometheus import PrometheusServer, Target, participant_targets
from mpc.verify import verify_signature
from tests.integration.helpers import create_key, sign
from tests.prometheus_tools import alert_queries, dashboard_queries, ensure_prometheus
from tests.stack import PARTICIPANTS, Stack

SIGNATURES = 5
SIGNERS = ["p1", "p2", "p3"]

MUST_HAVE_DATA = [
    *(f"Signing latency P50 / P95 / P99 / {ref}" for ref in "ABC"),
    "Signing throughput / A", "Signing success rate / A", "Node online rate / A", "Participants scraped / A",
    "Sessions by state / A", "Node CPU / A", "Node memory / A", "Rounds served / A",
    "Round duration P95 by protocol / A", "Pool levels / A", "Vault call latency P95 / A",
    "Temporal schedule-to-start latency P95 / A", "Temporal schedule-to-start latency P95 / B",
]
"""Panels a stack that just signed must fill; the rest (failures, refusals, backups) may be empty."""


def _query(prometheus: PrometheusServer, expr: str, **params: Any) -> dict[str, Any]:
    path = "/api/v1/query_range" if "start" in params else "/api/v1/query"
    reply = httpx.get(f"{prometheus.url}{path}", params={"query": expr, **params}, timeout=10)
    body = reply.json()
    assert reply.status_code == 200 and body["status"] == "success", f"{expr}: {body.get('error', body)}"
    return body["data"]


def _value(prometheus: PrometheusServer, expr: str) -> float:
    result = _query(prometheus, expr)["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _wait_for(prometheus: PrometheusServer, expr: str, at_least: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (value := _value(prometheus, expr)) < at_least:
        assert time.monotonic() < deadline, f"{expr} = {value}, expected >= {at_least}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    binary, _ = ensure_prometheus()
    with stack.client() as client:
        nodes = [n for n in client.get("/v1/nodes").json()["nodes"] if n["node_id"] in PARTICIPANTS]
    coordinator = [Target(f"{stack.api_url}/metrics", {"node": "api"}),
                   Target(stack.metrics_url("coordinator"), {"node": "coordinator"})]
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), free_port(), coordinator, interval="1s",
                              binary=binary)
    try:
        server.start()
        server.set_participants(participant_targets(nodes))
        server.wait_for_targets(len(coordinator) + len(PARTICIPANTS))
        yield server
    finally:
        server.stop()


def test_nodes_register_their_metrics_url_and_serve_health(stack: Stack) -> None:
    with stack.client() as client:
        listed = {n["node_id"]: n for n in client.get("/v1/nodes").json()["nodes"]}
    for node in PARTICIPANTS:
        assert listed[node]["metrics_url"] == stack.metrics_url(node)
    for name in [*PARTICIPANTS, "coordinator"]:
        health = httpx.get(stack.metrics_url(name).replace("/metrics", "/health"), timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok", name
        text = httpx.get(stack.metrics_url(name), timeout=5).text
        for family in ("mpc_node_info", "process_resident_memory_bytes", "temporal_worker_task_slots_available"):
            assert f"\n{family}" in text, f"{name}: {family} missing"


def test_every_board_and_alert_query_evaluates_against_a_real_scrape(stack: Stack,
                                                                    prometheus: PrometheusServer) -> None:
    started = time.monotonic()
    with stack.client() as client:
        key = create_key(client, chain_type="solana", threshold=2, nodes=SIGNERS)
        for i in range(SIGNATURES):
            digest = hashlib.sha256(f"prometheus {i}".encode()).hexdigest()
            signed = sign(client, key["key_id"], f"prometheus {i}".encode())
            assert signed["status"] == "completed", signed
            assert verify_signature("ed25519", bytes.fromhex(key["public_key"]), bytes.fromhex(digest),
                                    bytes.fromhex(signed["signature"]))
    # the scrapes after the signatures (two samples past the last increase, so rate() sees it)
    _wait_for(prometheus, 'sum(mpc_coordinator_sessions_finished_total{workflow="Sign",status="completed"})',
              SIGNATURES)
    _wait_for(prometheus, "sum(mpc_signing_latency_seconds_count)", SIGNATURES)
    _wait_for(prometheus, 'sum(mpc_node_rounds_total{job="mpc-participants",activity="participant.frost_sign"})',
              2 * SIGNATURES)
    time.sleep(3)

    queries = {**dashboard_queries(), **alert_queries()}
    now = time.time()
    empty = []
    for where, expr in queries.items():
        data = _query(prometheus, expr)
        assert data["resultType"] in ("vector", "scalar"), where
        _query(prometheus, expr, start=now - 60, end=now, step="5s")  # as a panel asks for its graph
        if not data["result"]:
            empty.append(where)
    missing = [where for where in MUST_HAVE_DATA if where in empty]
    assert not missing, f"no data for {missing} (empty: {empty})"
    assert set(MUST_HAVE_DATA) <= set(queries)

    # per-node panels cover every participant, and the alert rules evaluate cleanly
    memory = _query(prometheus, 'process_resident_memory_bytes{job="mpc-participants"}')["result"]
    assert {series["metric"]["node"] for series in memory} == set(PARTICIPANTS)
    served = _query(prometheus, 'sum by (node) (mpc_node_rounds_total{activity="participant.frost_sign"})')["result"]
    assert {series["metric"]["node"] for series in served} >= set(SIGNERS[:2])
    _wait_for_rules(prometheus)
    print(f"\n{len(queries)} queries, {len(empty)} empty ({', '.join(empty)}); "
          f"{time.monotonic() - started:.1f} s after the stack was up")


def _wait_for_rules(prometheus: PrometheusServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert {rule["name"] for rule in rules} == {q.removeprefix("alert ") for q in alert_queries()}
        pending = [r["name"] for r in rules if r["health"] == "unknown"]
        if not pending:
            bad = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
            assert not bad, bad
            return
        assert time.monotonic() < deadline, f"rules never evaluated: {pending}"
        time.sleep(0.5)


def test_prometheus_config_is_the_deployment_jobs(prometheus: PrometheusServer) -> None:
    jobs = {t["labels"]["job"] for t in httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()["data"][
        "activeTargets"]}
    assert jobs == {"mpc-coordinator", "mpc-participants"}
    assert Path(prometheus.data_dir / "prometheus.yml").is_file()
