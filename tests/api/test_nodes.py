"""Registration and heartbeats through the real API process (PostgreSQL, Redis, Temporal behind it)."""

from __future__ import annotations

import json
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


@pytest.fixture
def node_token(node_tokens, node_id: str) -> str:
    """A node token bound to this test's node id."""
    return node_tokens(node_id)


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


def _beat(key: SigningKey, node_id: str, ts: float) -> dict:
    return {"timestamp": ts, "signature": key.sign(heartbeat_message(node_id, ts)).signature.hex()}


def test_a_node_token_speaks_for_its_own_node_only(api_server: str, node_token: str, node_tokens,
                                                   node_id: str) -> None:
    key = SigningKey.generate()
    other = f"node-{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {node_token}"}
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(other, key, "66" * 32), headers=auth)
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "wrong_node"
    # Registered with its own token, the other node still cannot be heartbeaten with ours.
    other_auth = {"Authorization": f"Bearer {node_tokens(other)}"}
    assert httpx.post(f"{api_server}/v1/nodes/register", json=_registration(other, key, "66" * 32),
                      headers=other_auth).status_code == 200
    reply = httpx.post(f"{api_server}/v1/nodes/{other}/heartbeat", json=_beat(key, other, time.time()), headers=auth)
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "wrong_node"


def test_new_nodes_wait_for_admission(api_server: str, node_token: str, admin_token: str, node_id: str) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    key = SigningKey.generate()
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, key, "77" * 32),
                       headers={"Authorization": f"Bearer {node_token}"})
    assert reply.status_code == 200 and reply.json()["admission"] == "pending"
    # Only an admin approves; the node's own token cannot.
    own = httpx.post(f"{api_server}/v1/nodes/{node_id}/approve", headers={"Authorization": f"Bearer {node_token}"})
    assert own.status_code == 403
    approved = httpx.post(f"{api_server}/v1/nodes/{node_id}/approve", headers=admin)
    assert approved.status_code == 200 and approved.json()["admission"] == "admitted"
    audit = httpx.get(f"{api_server}/v1/audit-logs", headers=admin, params={"resource_id": node_id}).json()
    assert any(e["action"] == "node.approve" for e in audit["entries"])
    # Removal: gone, audited; registering again starts pending.
    assert httpx.delete(f"{api_server}/v1/nodes/{node_id}", headers=admin).status_code == 204
    assert httpx.get(f"{api_server}/v1/nodes/{node_id}", headers=admin).status_code == 404
    again = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, key, "77" * 32),
                       headers={"Authorization": f"Bearer {node_token}"})
    assert again.status_code == 200 and again.json()["admission"] == "pending"


def test_keygen_names_a_pending_node(api_server: str, node_tokens, admin_token: str) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    nodes = [f"node-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for i, node in enumerate(nodes):
        reply = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node, SigningKey.generate(),
                                                                                 f"{i + 1}8" * 32),
                           headers={"Authorization": f"Bearer {node_tokens(node)}"})
        assert reply.status_code == 200
    httpx.post(f"{api_server}/v1/nodes/{nodes[0]}/approve", headers=admin)
    sessions_before = httpx.get(f"{api_server}/v1/sessions", headers=admin).json()["total"]
    keygen = httpx.post(f"{api_server}/v1/keys", headers=admin,
                        json={"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": nodes})
    assert keygen.status_code == 409, keygen.text
    error = keygen.json()["error"]
    assert error["code"] == "node_not_admitted" and nodes[1] in error["message"]
    assert httpx.get(f"{api_server}/v1/sessions", headers=admin).json()["total"] == sessions_before


@pytest.mark.parametrize("when", ["same", "earlier", "nan", "inf"])
def test_heartbeat_timestamps_must_be_finite_and_increase(api_server: str, node_token: str, node_id: str,
                                                          when: str) -> None:
    key = SigningKey.generate()
    auth = {"Authorization": f"Bearer {node_token}"}
    registration = _registration(node_id, key, "99" * 32)
    assert httpx.post(f"{api_server}/v1/nodes/register", json=registration, headers=auth).status_code == 200
    first = registration["timestamp"] + 0.5
    assert httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=_beat(key, node_id, first),
                      headers=auth).status_code == 200
    ts = {"same": first, "earlier": first - 1, "nan": float("nan"), "inf": float("inf")}[when]
    body = json.dumps(_beat(key, node_id, ts))  # json.dumps writes NaN / Infinity, as a hostile client could
    reply = httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", content=body,
                       headers={**auth, "Content-Type": "application/json"})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["code"] in ("replayed_timestamp", "invalid_timestamp", "validation_error")


def test_a_revoked_token_stops_working(api_server: str, migrated_db: str, admin_token: str) -> None:
    from tests.services import make_token

    admin = {"Authorization": f"Bearer {admin_token}"}
    name = f"viewer-{uuid.uuid4().hex[:8]}"
    token = make_token(migrated_db, "viewer", name=name)
    viewer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{api_server}/v1/nodes", headers=viewer).status_code == 200
    listed = httpx.get(f"{api_server}/v1/tokens", headers=admin).json()["tokens"]
    row = next(t for t in listed if t["name"] == name)
    assert set(row) == {"token_id", "name", "role", "node_id", "created_at", "expires_at", "revoked_at"}
    assert httpx.get(f"{api_server}/v1/tokens", headers=viewer).status_code == 403
    revoked = httpx.delete(f"{api_server}/v1/tokens/{row['token_id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert httpx.get(f"{api_server}/v1/nodes", headers=viewer).status_code == 401
    assert httpx.delete(f"{api_server}/v1/tokens/no-such-token", headers=admin).status_code == 404


def test_values_the_database_cannot_take_are_422(api_server: str, admin_token: str) -> None:
    """Found by schemathesis: a NUL character and an OFFSET beyond 64 bits were 500s."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    for path in ("/v1/keys/a%00b", "/v1/keys?status=a%00b", "/v1/audit-logs?resource_id=x%00y"):
        reply = httpx.get(f"{api_server}{path}", headers=auth, timeout=10)
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_value", (path, reply.text)
    for path in ("/v1/keys", "/v1/sessions", "/v1/audit-logs"):
        reply = httpx.get(f"{api_server}{path}", params={"offset": 2**70}, headers=auth, timeout=10)
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "validation_error", (path, reply.text)
    assert httpx.get(f"{api_server}/v1/keys", params={"offset": 2**63 - 1}, headers=auth, timeout=10).status_code == 200


def test_registration_carries_the_signed_metrics_url(api_server: str, node_token: str, admin_token: str,
                                                     node_id: str) -> None:
    key = SigningKey.generate()
    auth = {"Authorization": f"Bearer {node_token}"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    url = "http://10.0.0.7:8080/metrics"
    # the URL is part of the signed registration: changed in transit, the signature fails
    body = _registration(node_id, key, "44" * 32, metrics_url=url)
    tampered = {**body, "metrics_url": "http://attacker.example:8080/metrics"}
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=tampered, headers=auth)
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "bad_node_signature"
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=body, headers=auth)
    assert reply.status_code == 200, reply.text
    assert reply.json()["metrics_url"] == url
    listed = httpx.get(f"{api_server}/v1/nodes", headers=admin).json()
    assert next(n for n in listed["nodes"] if n["node_id"] == node_id)["metrics_url"] == url
    assert httpx.get(f"{api_server}/v1/nodes/{node_id}", headers=admin).json()["metrics_url"] == url
    # a registration without one (a node from before METRICS_PORT) still verifies and clears it
    reply = httpx.post(f"{api_server}/v1/nodes/register", json=_registration(node_id, key, "44" * 32), headers=auth)
    assert reply.status_code == 200 and reply.json()["metrics_url"] == ""
    not_http = _registration(node_id, key, "44" * 32, metrics_url="file:///etc/passwd")
    assert httpx.post(f"{api_server}/v1/nodes/register", json=not_http, headers=auth).status_code == 422


def test_heartbeat_pool_levels_are_signed_stored_and_listed(api_server: str, node_token: str, admin_token: str,
                                                            node_id: str) -> None:
    """Issue 12 part 5: a heartbeat's pool levels are signed with it (v2 message), kept on the node's record
    and shown by `GET /v1/nodes`; levels the signature does not cover, or malformed ones, change nothing."""
    key = SigningKey.generate()
    auth, admin = {"Authorization": f"Bearer {node_token}"}, {"Authorization": f"Bearer {admin_token}"}
    registration = _registration(node_id, key, "ab" * 32)
    assert httpx.post(f"{api_server}/v1/nodes/register", json=registration, headers=auth).status_code == 200

    def levels_listed() -> dict:
        listed = httpx.get(f"{api_server}/v1/nodes", headers=admin).json()
        return next(n for n in listed["nodes"] if n["node_id"] == node_id)["pool_levels"]

    assert levels_listed() == {}  # none reported yet
    levels = {"paillier_preparams": 4, "frost_nonces": 30, "gg20_presignatures": 0}
    ts = registration["timestamp"] + 0.5
    signed = {"timestamp": ts, "pool_levels": levels,
              "signature": key.sign(heartbeat_message(node_id, ts, levels)).signature.hex()}
    reply = httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=signed, headers=auth)
    assert reply.status_code == 200, reply.text
    assert reply.json()["pool_levels"] == levels and levels_listed() == levels
    assert heartbeat_message(node_id, ts, levels) != heartbeat_message(node_id, ts)  # v2 covers the levels

    # Levels swapped under a signature over other levels (or over none): refused, nothing stored.
    for signed_levels in ({"paillier_preparams": 1}, None):
        ts += 1
        forged = {"timestamp": ts, "pool_levels": {"paillier_preparams": 99},
                  "signature": key.sign(heartbeat_message(node_id, ts, signed_levels)).signature.hex()}
        reply = httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=forged, headers=auth)
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "bad_node_signature"
    for bad in ({"paillier_preparams": -1}, {"Bad Name": 1}, {f"pool_{i}": 1 for i in range(17)}):
        ts += 1
        body = {"timestamp": ts, "pool_levels": bad,
                "signature": key.sign(heartbeat_message(node_id, ts, bad)).signature.hex()}
        reply = httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=body, headers=auth)
        assert reply.status_code == 422, reply.text
    # A v1 heartbeat (a node that predates pool levels) is accepted and keeps the last known levels.
    ts += 1
    assert httpx.post(f"{api_server}/v1/nodes/{node_id}/heartbeat", json=_beat(key, node_id, ts),
                      headers=auth).status_code == 200
    assert levels_listed() == levels
