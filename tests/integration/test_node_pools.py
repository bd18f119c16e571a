"""Each participant reports its pool levels through its signed heartbeats (issue 12 part 5): `GET /v1/nodes`
shows, per node, the same count of sealed pre-parameter sets (and FROST nonces, GG20 presignatures) as the
node's own ``mpc_node_pool_level`` metric, and follows it when a pool changes."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import create_key
from tests.stack import PARTICIPANTS, Stack

POOLS = ("paillier_preparams", "frost_nonces", "gg20_presignatures")


def metric_levels(url: str) -> dict[str, int]:
    levels: dict[str, int] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        if family.name == "mpc_node_pool_level":
            levels.update({s.labels["pool"]: int(s.value) for s in family.samples})
    return levels


def reported_levels(api: httpx.Client) -> dict[str, dict[str, int]]:
    return {n["node_id"]: n["pool_levels"] for n in api.get("/v1/nodes").json()["nodes"]}


def wait_agreement(stack: Stack, api: httpx.Client, nodes: list[str], timeout: float = 15) -> dict[str, dict[str, int]]:
    """Heartbeats come every 0.5 s on the test stack: wait until each node's report matches its metric."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = {node: metric_levels(stack.metrics_url(node)) for node in nodes}
        reported = reported_levels(api)
        if all(reported.get(node) == metrics[node] for node in nodes):
            return metrics
        assert time.monotonic() < deadline, f"heartbeats {reported} never matched the metrics {metrics}"
        time.sleep(0.25)


def test_nodes_report_their_pool_levels_through_heartbeats(stack: Stack) -> None:
    with stack.client() as api:
        before = wait_agreement(stack, api, PARTICIPANTS)
        assert all(set(POOLS) <= set(levels) for levels in before.values())
        # A FROST keygen fills each holder's nonce pool (NONCE_POOL_TARGET=3): the reports follow.
        holders = ["p1", "p2", "p3"]
        create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=holders)
        deadline = time.monotonic() + 15
        while True:
            after = wait_agreement(stack, api, holders)
            if all(after[n]["frost_nonces"] > before[n]["frost_nonces"] for n in holders):
                break
            assert time.monotonic() < deadline, f"nonce pools never grew: {before} -> {after}"
            time.sleep(0.25)
        assert all(after[n]["paillier_preparams"] == before[n]["paillier_preparams"] for n in holders)
