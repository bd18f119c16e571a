"""Prometheus metrics of the API process (scraped at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "mpc_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"], registry=REGISTRY
)
SIGN_LATENCY = Histogram(
    "mpc_signing_latency_seconds", "Time from sign request to signature", ["protocol", "curve"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY,
)
KEYGEN_LATENCY = Histogram(
    "mpc_keygen_latency_seconds", "Time from keygen request to key", ["protocol", "curve"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=REGISTRY,
)
SESSIONS = Counter(
    "mpc_sessions_total", "Finished sessions by operation and outcome", ["operation", "status"], registry=REGISTRY
)
SESSIONS_BY_STATE = Gauge("mpc_sessions_by_state", "Sessions by state", ["status"], registry=REGISTRY)
NODES_ONLINE = Gauge("mpc_nodes_online", "Participant nodes with a recent heartbeat", registry=REGISTRY)
NODES_TOTAL = Gauge("mpc_nodes_registered", "Registered participant nodes", registry=REGISTRY)

