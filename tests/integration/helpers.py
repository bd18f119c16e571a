"""Small helpers shared by the integration tests."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.signing import VerifyKey

from mpc.chains import _BECH32, p2tr_address
from mpc.verify import verify_signature


def create_key(client: httpx.Client, **body: Any) -> dict[str, Any]:
    """A key made through the API. These tests sign bare digests, which ethereum, bitcoin and solana keys
    refuse by default (purpose binding): they opt in unless `allow_raw_digest` is given (None: the default)."""
    reply = client.post("/v1/keys?wait=true", json={"protocol": "frost", "allow_raw_digest": True, **body})
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["status"] == "completed", session["error"]
    return session["key"]


def sign(client: httpx.Client, key_id: str, message: bytes, **body: Any) -> dict[str, Any]:
    digest = hashlib.sha256(message).hexdigest()
    reply = client.post(f"/v1/keys/{key_id}/sign?wait=true", json={"digest": digest, **body})
    assert reply.status_code == 200, reply.text
    return reply.json()


def wait_session(client: httpx.Client, session_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = client.get(f"/v1/sessions/{session_id}").json()
        if session["status"] in ("completed", "failed"):
            return session
        time.sleep(0.2)
    raise TimeoutError(f"session {session_id} still {session['status']}")


def check_signature(key: dict[str, Any], digest_hex: str, signature_hex: str) -> None:
    """Verify with independent verifiers; for Bitcoin keys also tie the verifying key to the address."""
    message, signature = bytes.fromhex(digest_hex), bytes.fromhex(signature_hex)
    verifying_key = bytes.fromhex(key["verifying_key"])
    if key["curve"] == "ed25519":
        assert len(signature) == 64 and len(verifying_key) == 32
        Ed25519PublicKey.from_public_bytes(verifying_key).verify(signature, message)  # OpenSSL
        VerifyKey(verifying_key).verify(message, signature)  # libsodium
    elif key["curve"] == "secp256k1":
        assert len(signature) == 65 and len(verifying_key) == 33
        assert verify_signature("secp256k1", verifying_key, message, signature)
    else:
        assert len(signature) == 64 and len(verifying_key) == 32 and len(bytes.fromhex(key["public_key"])) == 32
        assert verify_signature("secp256k1-tr", verifying_key, message, signature)  # libsecp256k1 BIP-340
        if key["chain_type"] == "bitcoin":
            assert key["address"] == p2tr_address(verifying_key)
            assert key["address"].startswith("bc1p") and set(key["address"][4:]) <= set(_BECH32)
    # And a wrong message must fail, so the check above cannot pass vacuously.
    assert not verify_signature(key["curve"], verifying_key, hashlib.sha256(message).digest(), signature)
