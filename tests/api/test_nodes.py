"""Registration and heartbeats through the real API process (PostgreSQL, Redis, Temporal behind it)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from nacl.signing import SigningKey

from mpc.node_auth import heartbeat_message, registration_message


def _registration(node_id: str, key: SigningKey, enc_pub: str, **overrides: object) -> dict:
    fields = {
        "node_id": node_id, "endpoint": "", "signing_public_key": key.verify_key.encode().hex(),
        "encryption_public_key": enc_pub, "capabilities": {"protocols": ["frost"]}, "version": "test",
        "timestamp": time.time(),
    }
    fields.update(overrides)
    return {**fields, "signature": key.sign(registration_message(fields)).signature.hex()}


@pytest.fixture
def node_id() -> str:
    return f"node-{uuid.uuid4().hex[:8]}"


def test_register_heartbeat_and_list(api_server: str, node_token: str, admin_token: str, node_id: str) -> None:
    key = SigningKey.generate()
    auth = {"Authorization": f"Bearer {node_token}"}
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, key, "11" * 32), headers=auth)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "online"

    ts = time.time()
    beat = {"timestamp": ts, "signature": key.sign(heartbeat_message(node_id, ts)).signature.hex()}
    assert httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=beat, headers=auth).status_code == 200

    listed = httpx.get(f"{api_server}/v1/nodes", headers={"Authorization": f"Bearer {admin_token}"}).json()
    entry = next(n for n in listed["nodes"] if n["node_id"] == node_id)
    assert entry["status"] == "online"
    assert entry["signing_public_key"] == key.verify_key.encode().hex()


def test_node_goes_offline_without_heartbeats(api_server: str, node_token: str, admin_token: str,
                                              node_id: str) -> None:
    key = SigningKey.generate()
    auth = {"Authorization": f"Bearer {node_token}"}
    assert httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, key, "22" * 32),
                      headers=auth).status_code == 200
    time.sleep(3.5)  # NODE_OFFLINE_AFTER is 3 s in the test stack
    node = httpx.get(f"{api_server}/v1/nodes/{node_id}", headers={"Authorization": f"Bearer {admin_token}"}).json()
    assert node["status"] == "offline"


def test_reregistration_with_other_keys_is_refused(api_server: str, node_token: str, node_id: str) -> None:
    auth = {"Authorization": f"Bearer {node_token}"}
    first = SigningKey.generate()
    assert httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, first, "33" * 32),
                      headers=auth).status_code == 200
    impostor = SigningKey.generate()
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, impostor, "33" * 32),
                       headers=auth)
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "node_key_mismatch"


@pytest.mark.parametrize("tamper", ["signature", "field", "stale"])
def test_bad_registrations_change_nothing(api_server: str, node_token: str, admin_token: str, node_id: str,
                                          tamper: str) -> None:
    key = SigningKey.generate()
    body = _registration(node_id, key, "44" * 32, timestamp=time.time() - 3600 if tamper == "stale" else time.time())
    if tamper == "signature":
        body["signature"] = SigningKey.generate().sign(b"x").signature.hex()
    elif tamper == "field":
        body["endpoint"] = "http://elsewhere"
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=body, headers={"Authorization": f"Bearer {node_token}"})
    assert reply.status_code in (401, 422)
    assert reply.json()["error"]["code"] in ("bad_node_signature", "stale_timestamp")
    lookup = httpx.get(f"{api_server}/v1/nodes/{node_id}", headers={"Authorization": f"Bearer {admin_token}"})
    assert lookup.status_code == 404


def test_heartbeat_signed_by_another_key_is_refused(api_server: str, node_token: str, node_id: str) -> None:
    key = SigningKey.generate()
    auth = {"Authorization": f"Bearer {node_token}"}
    httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, key, "55" * 32), headers=auth)
    ts = time.time()
    forged = {"timestamp": ts, "signature": SigningKey.generate().sign(heartbeat_message(node_id, ts)).signature.hex()}
    reply = httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=forged, headers=auth)
    assert reply.status_code == 401


def test_auth_is_required(api_server: str, admin_token: str) -> None:
    assert httpx.get(f"{api_server}/v1/nodes").status_code == 401
    assert httpx.get(f"{api_server}/v1/nodes", headers={"Authorization": "Bearer mpc_wrong"}).status_code == 401
    viewer = httpx.post(f"{api_server}/v1/nodes/register", json={},
                        headers={"Authorization": f"Bearer {admin_token}"})
    assert viewer.status_code == 422  # admin may register (role check passed), the empty body is refused


def test_health_and_metrics(api_server: str) -> None:
    assert httpx.get(f"{api_server}/health").json() == {"status": "ok"}
    metrics = httpx.get(f"{api_server}/metrics").text
    assert "mpc_nodes_online" in metrics and "mpc_http_requests_total" in metrics
