"""A keygen whose workflow cannot start (Temporal down) answers 503 and leaves no row behind."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from nacl.signing import SigningKey

from mpc.devstack.ports import free_port
from mpc.node_auth import registration_message
from tests.services import start_api


def _register(api: str, token: str, node_id: str) -> None:
    key = SigningKey.generate()
    fields = {"node_id": node_id, "endpoint": "", "signing_public_key": key.verify_key.encode().hex(),
              "encryption_public_key": "66" * 32, "capabilities": {}, "version": "test", "timestamp": time.time()}
    body = {**fields, "signature": key.sign(registration_message(fields)).signature.hex()}
    reply = httpx.post(f"{api}/v1/nodes/register", json=body, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text


def test_temporal_down_means_503_and_nothing_recorded(stack_env: dict[str, str], admin_token: str,
                                                      node_tokens, tmp_path: Path) -> None:
    env = {**stack_env, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", "NODE_OFFLINE_AFTER": "60s"}
    api, url = start_api(env, tmp_path / "logs", name="api-no-temporal")
    headers = {"Authorization": f"Bearer {admin_token}"}
    try:
        nodes = [f"nt-{uuid.uuid4().hex[:6]}" for _ in range(2)]
        for node in nodes:
            _register(url, node_tokens(node), node)
            assert httpx.post(f"{url}/v1/nodes/{node}/approve", headers=headers).status_code == 200
        before = (httpx.get(f"{url}/v1/keys", headers=headers).json()["total"],
                  httpx.get(f"{url}/v1/sessions", headers=headers).json()["total"],
                  httpx.get(f"{url}/v1/audit-logs", headers=headers).json()["total"])
        reply = httpx.post(f"{url}/v1/keys", headers=headers, timeout=30,
                           json={"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": nodes})
        assert reply.status_code == 503 and reply.json()["error"]["code"] == "temporal_unavailable"
        after = (httpx.get(f"{url}/v1/keys", headers=headers).json()["total"],
                 httpx.get(f"{url}/v1/sessions", headers=headers).json()["total"],
                 httpx.get(f"{url}/v1/audit-logs", headers=headers).json()["total"])
        assert after == before
    finally:
        api.stop()
