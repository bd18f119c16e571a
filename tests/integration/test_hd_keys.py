"""BIP-32 child keys on the real stack: the xpub and child addresses match bip-utils' derivation from the
xpub, and a sign request with `derivation_path` is signed by the child (each node tweaks its own share from
its pinned chain code) and verifies under the child key with independent verifiers, not under the key."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from bip_utils import Bip32Secp256k1, EthAddr, P2TRAddr, P2WPKHAddr
from coincurve import PublicKey, PublicKeyXOnly
from eth_account import Account

from mpc.verify import verify_signature
from tests.integration.helpers import create_key, sign
from tests.stack import Stack

NODES = ["p1", "p2", "p3"]
PATHS = ["m/0/17", "m/1", "m/44/0/7"]


def _check_children(client: httpx.Client, key: dict[str, Any]) -> Bip32Secp256k1:
    """xpub and addresses at several paths against bip-utils' CKDpub from the xpub."""
    reply = client.get(f"/v1/keys/{key['key_id']}/xpub")
    assert reply.status_code == 200, reply.text
    xpub = reply.json()
    assert xpub["xpub"].startswith("xpub") and len(bytes.fromhex(xpub["chain_code"])) == 32
    root = Bip32Secp256k1.FromExtendedKey(xpub["xpub"])
    assert root.PublicKey().RawCompressed().ToHex() == xpub["public_key"]
    for path in PATHS:
        reply = client.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": path})
        assert reply.status_code == 200, reply.text
        child = reply.json()
        lib = root.DerivePath(path)
        point = lib.PublicKey().RawCompressed().ToBytes()
        assert child["xpub"] == lib.PublicKey().ToExtended() and child["path"] == path
        if key["chain_type"] == "ethereum":
            assert child["address"] == EthAddr.EncodeKey(point)
        elif key["curve"] == "secp256k1-tr":  # BIP-86: the child is the internal key
            assert child["address"] == P2TRAddr.EncodeKey(point, hrp="bc")
            assert child["public_key"] == point[1:].hex()
        elif key["chain_type"] == "bitcoin":
            assert child["address"] == P2WPKHAddr.EncodeKey(point, hrp="bc")
        else:
            assert child["public_key"] == point.hex()
        assert child["address"] != key["address"]
    same = client.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": "m"}).json()
    assert same["address"] == key["address"] and same["verifying_key"] == key["verifying_key"]
    return root


@pytest.mark.parametrize(("curve", "chain"), [("secp256k1-tr", "bitcoin"), ("secp256k1", "schnorr")])
def test_frost_child_keys_sign(stack: Stack, curve: str, chain: str) -> None:
    with stack.client() as client:
        key = create_key(client, curve=curve, chain_type=chain, threshold=2, nodes=NODES)
        root = _check_children(client, key)
        for path, signers in (("m/0/17", ["p1", "p2"]), ("m/1", ["p2", "p3"])):
            message = f"{key['key_id']} child {path}".encode()
            session = sign(client, key["key_id"], message, signers=signers, derivation_path=path)
            assert session["status"] == "completed", session["error"]
            assert session["derivation_path"] == path
            digest, signature = hashlib.sha256(message).digest(), bytes.fromhex(session["signature"])
            child = client.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": path}).json()
            point = root.DerivePath(path).PublicKey().RawCompressed().ToBytes()
            if curve == "secp256k1-tr":
                tag = hashlib.sha256(b"TapTweak").digest()
                tweak = hashlib.sha256(tag + tag + point[1:]).digest()  # BIP-86: no script tree
                output_key = PublicKey(b"\x02" + point[1:]).add(tweak).format()[1:]
                assert child["verifying_key"] == output_key.hex()
                assert PublicKeyXOnly(output_key).verify(signature, digest)  # libsecp256k1 BIP-340
                assert not PublicKeyXOnly(bytes.fromhex(key["verifying_key"])).verify(signature, digest)
            else:
                assert verify_signature("secp256k1", point, digest, signature)
                assert not verify_signature("secp256k1", bytes.fromhex(key["public_key"]), digest, signature)


def test_gg20_child_key_signs_ethereum(stack: Stack) -> None:
    with stack.client(timeout=240) as client:
        key = create_key(client, protocol="gg20", chain_type="ethereum", threshold=2, nodes=["p3", "p4", "p5"])
        root = _check_children(client, key)
        path = "m/0/17"
        message = f"{key['key_id']} ethereum child".encode()
        session = sign(client, key["key_id"], message, signers=["p3", "p5"], derivation_path=path)
        assert session["status"] == "completed", session["error"]
        digest, signature = hashlib.sha256(message).digest(), bytes.fromhex(session["signature"])
        point = root.DerivePath(path).PublicKey().RawCompressed().ToBytes()
        assert PublicKey.from_signature_and_message(signature, digest, hasher=None).format() == point
        r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
        child = client.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": path}).json()
        assert Account._recover_hash(digest, vrs=(v + 27, r, s)) == child["address"] != key["address"]


def test_paths_that_cannot_be_signed_are_refused_before_anything_starts(stack: Stack) -> None:
    with stack.client() as client:
        tr = create_key(client, curve="secp256k1-tr", chain_type="schnorr", threshold=2, nodes=NODES)
        ed = create_key(client, curve="ed25519", chain_type="ed25519", threshold=2, nodes=NODES)
        before = client.get("/v1/sessions", params={"limit": 1}).json()["total"]
        cases = [(tr, "m/0'/1", "hardened_not_possible"), (tr, "m/2147483648", "hardened_not_possible"),
                 (tr, "m/01", "invalid_derivation_path"), (tr, "0/1", "invalid_derivation_path"),
                 (ed, "m/0/1", "derivation_not_supported")]
        for key, path, code in cases:
            reply = client.post(f"/v1/keys/{key['key_id']}/sign",
                                json={"digest": "11" * 32, "derivation_path": path})
            assert reply.status_code == 422 and reply.json()["error"]["code"] == code, (path, reply.text)
            assert reply.json()["error"]["field"] == "derivation_path"
            reply = client.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": path})
            assert reply.status_code == 422 and reply.json()["error"]["code"] == code, (path, reply.text)
        assert client.get("/v1/sessions", params={"limit": 1}).json()["total"] == before  # nothing started
        reply = client.get(f"/v1/keys/{ed['key_id']}/xpub")
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "derivation_not_supported"
        assert client.get("/v1/keys/00000000-0000-0000-0000-000000000000/xpub").status_code == 404
