"""First light: one FROST key and one signature through the API, verified independently."""

from __future__ import annotations

import hashlib

from mpc.verify import verify_signature
from tests.stack import Stack


def test_ed25519_keygen_and_sign(stack: Stack) -> None:
    with stack.client() as client:
        reply = client.post("/v1/keys?wait=true", json={"protocol": "frost", "chain_type": "solana", "threshold": 2,
                                                        "nodes": ["p1", "p2", "p3"], "allow_raw_digest": True})
        assert reply.status_code == 200, reply.text
        session = reply.json()
        assert session["status"] == "completed", session["error"]
        key = session["key"]
        digest = hashlib.sha256(b"hello").hexdigest()
        signed = client.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digest": digest})
        assert signed.status_code == 200, signed.text
        body = signed.json()
        assert body["status"] == "completed", body
        assert verify_signature("ed25519", bytes.fromhex(key["public_key"]), bytes.fromhex(digest),
                                bytes.fromhex(body["signature"]))
