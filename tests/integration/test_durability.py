"""Durability: processes die and come back; sessions finish, keys and shares survive.

Each test leaves the stack as it found it (every process it stops is started again).
"""

from __future__ import annotations

import hashlib
import time

import httpx

from mpc.devstack.temporal import TemporalDevServer
from tests.integration.helpers import check_signature, create_key, sign, wait_session
from tests.stack import Stack


def _wait_round(api: httpx.Client, session_id: str, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(f"/v1/sessions/{session_id}").json()["current_round"] >= at_least:
            return
        time.sleep(0.01)
    raise TimeoutError("session did not reach the round")


def test_coordinator_killed_mid_keygen_resumes(stack: Stack) -> None:
    with stack.client() as api:
        started = api.post("/v1/keys", json={"protocol": "frost", "curve": "secp256k1", "chain_type": "schnorr",
                                             "threshold": 3, "nodes": ["p1", "p2", "p3", "p4", "p5"]})
        assert started.status_code == 202
        session_id = started.json()["session_id"]
        _wait_round(api, session_id, 1)
        stack.coordinator.kill()  # SIGKILL: no clean shutdown, the workflow task is mid-flight
        time.sleep(2)
        stack.start_coordinator()
        session = wait_session(api, session_id)
        assert session["status"] == "completed", session["error"]
        key = api.get(f"/v1/keys/{session['key_id']}").json()
        digest = hashlib.sha256(b"after coordinator crash").hexdigest()
        signed = sign(api, key["key_id"], b"after coordinator crash")
        check_signature(key, digest, signed["signature"])


def test_temporal_restart_with_state_file_completes_running_session(stack: Stack,
                                                                    temporal_server: TemporalDevServer) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        digest = hashlib.sha256(b"across a Temporal restart").hexdigest()
        started = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest})
        assert started.status_code == 202
        temporal_server.stop()
        temporal_server.start()  # same port, same --db-filename
        session = wait_session(api, started.json()["session_id"], timeout=180)
        assert session["status"] == "completed", session["error"]
        check_signature(key, digest, session["signature"])
        assert httpx.get(f"{stack.api_url}/ready", timeout=10).status_code == 200


def test_participant_restart_keeps_shares_and_identity(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"])
        before = api.get("/v1/nodes/p3").json()
        stack.participants["p3"].stop()
        stack.start_participant("p3")
        stack.wait_online(["p3"])
        after = api.get("/v1/nodes/p3").json()
        # The same identity keys: a new identity would have been refused (node_key_mismatch) at registration.
        assert (after["signing_public_key"], after["encryption_public_key"]) == (
            before["signing_public_key"], before["encryption_public_key"])
        digest = hashlib.sha256(b"p3 came back").hexdigest()
        signed = sign(api, key["key_id"], b"p3 came back", signers=["p1", "p3"])
        assert signed["status"] == "completed", signed["error"]
        check_signature(key, digest, signed["signature"])


def test_api_restart_loses_nothing(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="solana", threshold=2, nodes=["p1", "p2", "p3"])
        signed = sign(api, key["key_id"], b"before the API restart")
        keys_before = api.get("/v1/keys", params={"limit": 500}).json()
        stack.restart_api()
        assert api.get(f"/v1/keys/{key['key_id']}").json() == key | {"status": "active"}
        assert api.get(f"/v1/sessions/{signed['session_id']}").json()["signature"] == signed["signature"]
        assert api.get("/v1/keys", params={"limit": 500}).json() == keys_before
        again = sign(api, key["key_id"], b"after the API restart")
        assert again["status"] == "completed"
