"""Coalesced sign requests (api/coalesce.py, api/sign_batching.py) on the real stack.

Requests of one key and caller that come while a session of theirs runs start together as one batch
session: each keeps its own session row, answer and audit entries, and gets its own digest's signature,
verified independently. A request that may not join (an Idempotency-Key, an explicit signer set, a
BIP-32 child) starts its own session as before.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from typing import Any

import httpx
import pytest

from mpc.db.models import SHARED_WORKFLOW_PREFIX
from tests.integration.helpers import check_signature, create_key
from tests.stack import Stack

NODES = ["p1", "p2", "p3"]
REQUESTS = 8


@pytest.fixture(scope="module")
def key(stack: Stack) -> dict[str, Any]:
    with stack.client() as api:
        return create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=NODES)


def sign_at_once(stack: Stack, key_id: str, bodies: list[dict[str, Any]],
                 headers: list[dict[str, str]] | None = None) -> list[httpx.Response]:
    """Every request sent together from its own connection, each waiting for its answer."""

    def one(index: int) -> httpx.Response:
        with stack.client() as api:
            return api.post(f"/v1/keys/{key_id}/sign?wait=true", json=bodies[index],
                            headers=(headers or [{}] * len(bodies))[index])

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, range(len(bodies))))


def test_concurrent_requests_share_batch_sessions_and_each_gets_its_own_signature(
        stack: Stack, key: dict[str, Any]) -> None:
    digests = [hashlib.sha256(f"coalesced {i}".encode()).hexdigest() for i in range(REQUESTS)]
    replies = sign_at_once(stack, key["key_id"], [{"digest": d} for d in digests])
    sessions = [reply.json() for reply in replies]
    assert all(reply.status_code == 200 for reply in replies), [r.text for r in replies]
    assert len({s["session_id"] for s in sessions}) == REQUESTS
    for digest, session in zip(digests, sessions, strict=True):
        assert session["status"] == "completed", session["error"]
        assert session["message_hash"] == digest and session["signatures"] is None
        check_signature(key, digest, session["signature"])  # its own digest's, verified independently
    shared = [s for s in sessions if s["workflow_id"].startswith(SHARED_WORKFLOW_PREFIX)]
    assert len(shared) >= 2, [s["workflow_id"] for s in sessions]  # some started together
    assert len({s["workflow_id"] for s in sessions}) < REQUESTS
    with stack.client() as api:
        for session in shared:
            shown = api.get(f"/v1/sessions/{session['session_id']}").json()
            assert shown["signature"] == session["signature"] and shown["status"] == "completed"
            entries = api.get("/v1/audit-logs", params={"session_id": session["session_id"]}).json()["entries"]
            actions = sorted(entry["action"] for entry in entries)
            assert actions == ["key.sign", "key.sign_request"], actions
            signed = next(entry for entry in entries if entry["action"] == "key.sign")
            assert signed["details"]["digest"] == session["message_hash"] and signed["status"] == "success"
            assert signed["details"]["coalesced_in"] in {s["session_id"] for s in shared}


def test_requests_that_may_not_join_start_their_own_sessions(stack: Stack, key: dict[str, Any]) -> None:
    """An Idempotency-Key names the request's own workflow; an explicit signer set is the caller's choice."""
    digests = [hashlib.sha256(f"own session {i}".encode()).hexdigest() for i in range(4)]
    bodies = [{"digest": digests[0]}, {"digest": digests[1]}, {"digest": digests[2], "signers": ["p2", "p3"]},
              {"digest": digests[3]}]
    headers = [{}, {"Idempotency-Key": f"own-{digests[1][:16]}"}, {}, {"Idempotency-Key": f"own-{digests[3][:16]}"}]
    sessions = [reply.json() for reply in sign_at_once(stack, key["key_id"], bodies, headers)]
    for digest, session in zip(digests, sessions, strict=True):
        assert session["status"] == "completed", session["error"]
        check_signature(key, digest, session["signature"])
    for session in sessions[1:]:
        assert not session["workflow_id"].startswith(SHARED_WORKFLOW_PREFIX), session["workflow_id"]
