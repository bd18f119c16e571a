"""FROST through the API on the real stack: every suite, 2-of-3 and 3-of-5, every signer subset."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from coincurve import PublicKey, PublicKeyXOnly

from tests.integration.helpers import check_signature, create_key, sign
from tests.stack import Stack

CASES = [
    ("ed25519", "solana"),
    ("secp256k1", "schnorr"),
    ("secp256k1-tr", "bitcoin"),
    ("secp256k1-tr", "schnorr"),
]


@pytest.mark.parametrize(("threshold", "nodes"), [(2, ["p1", "p2", "p3"]), (3, ["p1", "p2", "p3", "p4", "p5"])],
                         ids=["2-of-3", "3-of-5"])
@pytest.mark.parametrize(("curve", "chain"), CASES, ids=[f"{c}-{ch}" for c, ch in CASES])
def test_every_subset_signs(stack: Stack, curve: str, chain: str, threshold: int, nodes: list[str]) -> None:
    with stack.client() as client:
        key = create_key(client, curve=curve, chain_type=chain, threshold=threshold, nodes=nodes)
        assert key["status"] == "active" and key["participants"] == nodes
        assert (key["threshold"], key["total_nodes"], key["protocol"]) == (threshold, len(nodes), "frost")
        expected_len = {"ed25519": 32, "secp256k1": 33, "secp256k1-tr": 32}[curve]
        assert len(bytes.fromhex(key["public_key"])) == expected_len
        if chain == "solana":
            assert 32 <= len(key["address"]) <= 44
        for subset in itertools.combinations(nodes, threshold):
            message = f"{key['key_id']} signed by {subset}".encode()
            session = sign(client, key["key_id"], message, signers=list(subset))
            assert session["status"] == "completed", session["error"]
            assert sorted(session["participants"]) == sorted(subset)
            check_signature(key, hashlib.sha256(message).hexdigest(), session["signature"])


def test_fewer_than_threshold_signers_is_refused(stack: Stack) -> None:
    with stack.client() as client:
        key = create_key(client, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        before = client.get("/v1/sessions", params={"key_id": key["key_id"]}).json()["total"]
        reply = client.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": "00" * 32, "signers": ["p1"]})
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_signers"
        assert client.get("/v1/sessions", params={"key_id": key["key_id"]}).json()["total"] == before


def _bip341_output_key(internal_x: bytes, merkle_root: bytes) -> bytes:
    """BIP-341 taproot_tweak_pubkey written from the BIP with hashlib and libsecp256k1 (coincurve), not tss."""
    tag = hashlib.sha256(b"TapTweak").digest()
    tweak = hashlib.sha256(tag + tag + internal_x + merkle_root).digest()
    return PublicKey(b"\x02" + internal_x).add(tweak).format(compressed=True)[1:]


def test_taproot_script_path_root_signs_under_the_tweaked_output_key(stack: Stack) -> None:
    """A sign request with `taproot_merkle_root`: signers and aggregator use the same tweak, so no honest
    share looks invalid, the key stays active, and the signature is BIP-340 valid under Q = P + t(P, root)·G."""
    root = hashlib.sha256(b"tapleaf: a script-path spend").digest()
    with stack.client() as client:
        key = create_key(client, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"])
        for signers in (["p1", "p2"], ["p2", "p3"]):  # from the pool, then another subset
            message = f"script path via {signers}".encode()
            session = sign(client, key["key_id"], message, signers=signers, taproot_merkle_root=root.hex())
            assert session["status"] == "completed", session["error"]
            signature, digest = bytes.fromhex(session["signature"]), hashlib.sha256(message).digest()
            output_key = _bip341_output_key(bytes.fromhex(key["public_key"]), root)
            assert PublicKeyXOnly(output_key).verify(signature, digest)  # libsecp256k1 BIP-340
            # Not under the key-path (root-less) output key: the root really went into the tweak.
            assert not PublicKeyXOnly(bytes.fromhex(key["verifying_key"])).verify(signature, digest)
        assert client.get(f"/v1/keys/{key['key_id']}").json()["status"] == "active"
        # And a plain key-path spend with the same key still works.
        session = sign(client, key["key_id"], b"key path", signers=["p1", "p3"])
        assert session["status"] == "completed", session["error"]
        check_signature(key, hashlib.sha256(b"key path").hexdigest(), session["signature"])
