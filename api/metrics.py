"""Prometheus metrics of the API process (scraped at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "mpc_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"], registry=REGISTRY
)
# Sessions ended and their latency (mpc_sessions_total, mpc_signing_latency_seconds, mpc_keygen_latency_seconds)
# are recorded by the coordinator worker where each session ends, also for clients that poll (issue 12).
SESSIONS_BY_STATE = Gauge("mpc_sessions_by_state", "Sessions by state", ["status"], registry=REGISTRY)
NODES_ONLINE = Gauge("mpc_nodes_online", "Participant nodes with a recent heartbeat", registry=REGISTRY)
NODES_TOTAL = Gauge("mpc_nodes_registered", "Registered participant nodes", registry=REGISTRY)

