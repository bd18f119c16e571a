"""Sessions are counted where they end (issue 12 part 6): the coordinator worker's /metrics counts every
ended session by operation, protocol, curve and outcome, and observes the signing latency, also when the
client never waited (`?wait=true`) but polled; the API no longer counts them itself."""

from __future__ import annotations

import hashlib

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import create_key, wait_session
from tests.stack import Stack

LABELS = {"operation": "sign", "protocol": "frost", "curve": "ed25519", "outcome": "completed"}


def sample(url: str, name: str, **labels: str) -> float:
    text = httpx.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_polled_sessions_are_counted_by_the_coordinator(stack: Stack) -> None:
    coordinator = stack.metrics_url("coordinator")
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        assert sample(coordinator, "mpc_sessions_total", operation="keygen", protocol="frost", curve="ed25519",
                      outcome="completed") >= 1
        before = sample(coordinator, "mpc_sessions_total", **LABELS)
        latency_before = sample(coordinator, "mpc_signing_latency_seconds_count", protocol="frost", curve="ed25519")
        for i in range(2):  # no ?wait=true: the client polls the session
            started = api.post(f"/v1/keys/{key['key_id']}/sign",
                               json={"digest": hashlib.sha256(f"polled {i}".encode()).hexdigest()})
            assert started.status_code == 202, started.text
            assert wait_session(api, started.json()["session_id"])["status"] == "completed"
        assert sample(coordinator, "mpc_sessions_total", **LABELS) == before + 2
        assert sample(coordinator, "mpc_signing_latency_seconds_count", protocol="frost",
                      curve="ed25519") == latency_before + 2
        assert sample(coordinator, "mpc_session_duration_seconds_count", **LABELS) >= 2
        # The API does not count them a second time.
        api_text = api.get("/metrics").text
        assert "mpc_sessions_total" not in api_text and "mpc_signing_latency_seconds" not in api_text
