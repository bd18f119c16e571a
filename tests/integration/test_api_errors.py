"""Bad requests get a JSON error with a stable code, and change nothing: no row, no workflow."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from temporalio.client import Client

from mpc.devstack.redis import RedisServer
from tests.integration.helpers import create_key
from tests.stack import Stack


def _counts(stack: Stack) -> tuple[int, int, int]:
    with stack.client() as api:
        return (api.get("/v1/keys").json()["total"], api.get("/v1/sessions").json()["total"],
                api.get("/v1/audit-logs").json()["total"])


async def _workflow_count(stack: Stack) -> int:
    client = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    return (await client.count_workflows()).count


@pytest.fixture(scope="module")
def ed_key(stack: Stack) -> dict:
    with stack.client() as api:
        return create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])


BAD_KEYGEN = [
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 4, "total_nodes": 3}, 422, "invalid_threshold"),
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 1, "total_nodes": 3}, 422, "invalid_threshold"),
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "total_nodes": 40}, 409,
     "not_enough_online_nodes"),
    ({"protocol": "frost", "chain_type": "solana", "curve": "secp256k1", "threshold": 2, "total_nodes": 3}, 422,
     "chain_mismatch"),
    ({"protocol": "frost", "chain_type": "ethereum", "threshold": 2, "total_nodes": 3}, 422, "chain_mismatch"),
    ({"protocol": "frost", "chain_type": "dogecoin", "threshold": 2, "total_nodes": 3}, 422, "validation_error"),
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": ["p1", "p1"]}, 422, "validation_error"),
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": ["p1", "ghost"]}, 422, "unknown_nodes"),
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 2}, 422, "validation_error"),
    ({"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "total_nodes": 3, "extra": 1}, 422,
     "validation_error"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_KEYGEN, ids=[c for _, _, c in BAD_KEYGEN])
async def test_bad_keygen_changes_nothing(stack: Stack, body: dict, status: int, code: str) -> None:
    before, workflows = _counts(stack), await _workflow_count(stack)
    with stack.client() as api:
        reply = await asyncio.to_thread(api.post, "/v1/keys", json=body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert _counts(stack) == before
    assert await _workflow_count(stack) == workflows


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/v1/keys/no-such-key/sign", {"digest": "00" * 32}, 404, "key_not_found"),
    ("KEY/sign", {"digest": "00" * 31}, 422, "validation_error"),
    ("KEY/sign", {"digest": "zz" * 32}, 422, "validation_error"),
    ("KEY/sign", {"digest": "00" * 32, "signers": ["p1", "p9"]}, 422, "not_a_participant"),
    ("KEY/sign", {"digest": "00" * 32, "signers": ["p1", "p1"]}, 422, "invalid_signers"),
    ("KEY/sign", {"digest": "00" * 32, "taproot_merkle_root": "11" * 32}, 422, "validation_error"),
], ids=["unknown-key", "short-digest", "not-hex", "stranger", "duplicate-signer", "merkle-root-on-ed25519"])
async def test_bad_sign_changes_nothing(stack: Stack, ed_key: dict, path: str, body: dict, status: int,
                                       code: str) -> None:
    path = path.replace("KEY", f"/v1/keys/{ed_key['key_id']}")
    before, workflows = _counts(stack), await _workflow_count(stack)
    with stack.client() as api:
        reply = await asyncio.to_thread(api.post, path, json=body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    assert _counts(stack) == before
    assert await _workflow_count(stack) == workflows


def test_unknown_key_and_session_are_404(stack: Stack) -> None:
    with stack.client() as api:
        assert api.get("/v1/keys/nope").json()["error"]["code"] == "key_not_found"
        assert api.get("/v1/sessions/nope").json()["error"]["code"] == "session_not_found"


def test_idempotency_key_returns_the_same_session(stack: Stack, redis_server: RedisServer) -> None:
    body = {"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": ["p1", "p2", "p3"]}
    key = {"Idempotency-Key": f"same-request-{uuid.uuid4()}"}
    with stack.client() as api:
        first = api.post("/v1/keys", json=body, headers=key)
        again = api.post("/v1/keys", json=body, headers=key)  # answered from Redis
        assert first.status_code == 202 and again.status_code in (200, 202)
        assert again.json()["session_id"] == first.json()["session_id"]
        assert again.json()["key_id"] == first.json()["key_id"]
        redis.Redis(host=redis_server.host, port=redis_server.port).flushall()  # Redis forgets everything
        third = api.post("/v1/keys", json=body, headers=key)  # the workflow id still says "seen"
        assert third.json()["session_id"] == first.json()["session_id"]
        keys = api.get("/v1/keys", params={"limit": 500}).json()["keys"]
        assert sum(k["key_id"] == first.json()["key_id"] for k in keys) == 1


def test_same_idempotency_key_on_two_keys_is_two_requests(stack: Stack, ed_key: dict) -> None:
    with stack.client() as api:
        other = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        header = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
        first = api.post(f"/v1/keys/{ed_key['key_id']}/sign", json={"digest": "01" * 32}, headers=header)
        second = api.post(f"/v1/keys/{other['key_id']}/sign", json={"digest": "01" * 32}, headers=header)
        assert first.status_code == second.status_code == 202, (first.text, second.text)
        assert first.json()["session_id"] != second.json()["session_id"]
        assert (first.json()["key_id"], second.json()["key_id"]) == (ed_key["key_id"], other["key_id"])
        repeat = api.post(f"/v1/keys/{other['key_id']}/sign", json={"digest": "01" * 32}, headers=header)
        assert repeat.json()["session_id"] == second.json()["session_id"]


def test_idempotency_key_reused_with_another_body_is_refused(stack: Stack, ed_key: dict,
                                                             redis_server: RedisServer) -> None:
    """SECURITY.md A6: a repeat with another body is 422 `idempotency_key_reused`, never the earlier session
    (from Redis or, once Redis forgot, from the database); the same body in another key order still is."""
    header = {"Idempotency-Key": f"reused-{uuid.uuid4()}"}
    sign_path = f"/v1/keys/{ed_key['key_id']}/sign"
    keygen = {"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": ["p1", "p2", "p3"]}
    with stack.client() as api:
        first_sign = api.post(sign_path, json={"digest": "02" * 32}, headers=header)
        first_key = api.post("/v1/keys", json=keygen, headers=header)
        assert first_sign.status_code == first_key.status_code == 202, (first_sign.text, first_key.text)
        before = _counts(stack)
        for forgotten in (False, True):
            if forgotten:
                redis.Redis(host=redis_server.host, port=redis_server.port).flushall()
            changed = [
                api.post(sign_path, json={"digest": "03" * 32}, headers=header),  # another digest
                api.post(sign_path, json={"digest": "02" * 32, "signers": ["p2", "p3"]}, headers=header),
                api.post("/v1/keys", json={**keygen, "threshold": 3}, headers=header),
                api.post("/v1/keys", json={**keygen, "description": "other"}, headers=header),
            ]
            for reply in changed:
                assert reply.status_code == 422, reply.text
                assert reply.json()["error"]["code"] == "idempotency_key_reused"
                assert first_sign.json()["session_id"] not in reply.text
            same_sign = api.post(sign_path, json={"digest": "02" * 32}, headers=header)
            same_key = api.post("/v1/keys", json=dict(reversed(list(keygen.items()))), headers=header)
            assert same_sign.json()["session_id"] == first_sign.json()["session_id"]
            assert same_key.json()["session_id"] == first_key.json()["session_id"]
        assert _counts(stack)[:2] == before[:2]  # no key or session was added (the first two still audit)
