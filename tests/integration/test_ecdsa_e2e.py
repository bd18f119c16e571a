"""Threshold ECDSA (GG18 / GG20 on secp256k1) through the API on the real stack.

The key's protocol decides how it signs (there is no per-request override): one 2-of-3 GG20 key
for Ethereum and one 2-of-3 GG18 key for Bitcoin, each signing once with a non-default signer
pair. Every 65-byte r ‖ s ‖ v signature is checked with libsecp256k1 (public-key recovery),
OpenSSL (`cryptography`, prehashed) and, for the Ethereum key, eth_account's address recovery.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from coincurve import PublicKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from eth_account import Account

from mpc.chains import p2wpkh_address
from tests.integration.helpers import create_key, sign
from tests.stack import Stack

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
NODES = ["p1", "p2", "p3"]


def check_ecdsa_signature(key: dict[str, Any], digest: bytes, signature_hex: str) -> None:
    signature = bytes.fromhex(signature_hex)
    assert len(signature) == 65
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    assert 0 < r < ORDER and 0 < s <= ORDER // 2 and v in (0, 1)  # low-s
    public_key = bytes.fromhex(key["public_key"])
    assert len(public_key) == 33 and key["verifying_key"] == key["public_key"]
    # libsecp256k1: recovering the key from r ‖ s ‖ recid over the digest gives the key's public key.
    assert PublicKey.from_signature_and_message(signature, digest, hasher=None).format() == public_key
    # OpenSSL: plain ECDSA verification of the prehashed digest (raises on failure).
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key).verify(
        encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    if key["chain_type"] == "ethereum":
        assert Account._recover_hash(digest, vrs=(v + 27, r, s)) == key["address"]
    else:
        assert key["address"] == p2wpkh_address(public_key) and key["address"].startswith("bc1q")
    # A wrong digest recovers another key: the checks above cannot pass vacuously.
    other = hashlib.sha256(digest).digest()
    assert PublicKey.from_signature_and_message(signature, other, hasher=None).format() != public_key


@pytest.mark.parametrize(("protocol", "chain"), [("gg20", "ethereum"), ("gg18", "bitcoin")])
def test_ecdsa_keygen_and_sign(stack: Stack, protocol: str, chain: str) -> None:
    with stack.client(timeout=240) as client:
        key = create_key(client, protocol=protocol, chain_type=chain, threshold=2, nodes=NODES)
        assert key["status"] == "active" and key["participants"] == NODES
        assert (key["protocol"], key["curve"], key["threshold"]) == (protocol, "secp256k1", 2)
        if chain == "ethereum":
            address = key["address"]
            assert address.startswith("0x") and len(address) == 42 and address != address.lower()
        message = f"{key['key_id']} {protocol}".encode()
        session = sign(client, key["key_id"], message, signers=["p1", "p3"])
        assert session["status"] == "completed", session["error"]
        assert sorted(session["participants"]) == ["p1", "p3"]
        check_ecdsa_signature(key, hashlib.sha256(message).digest(), session["signature"])
