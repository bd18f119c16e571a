"""Signing transcripts replayed from published vectors.

Files: /work/shared/vectors/rfc9591/frost-{secp256k1-sha256,ed25519-sha512}.json (RFC 9591 App. E),
zf-frost/frost-{secp256k1,ed25519}/vectors.json and vectors-big-identifier.json, and
frost-secp256k1-tr/vectors.json (ZcashFoundation/frost @0966bd15); see vectors/SOURCES.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tss.frost import (
    SignatureShare,
    aggregate,
    commit,
    get_ciphersuite,
    keys_from_coefficients,
    sign,
    verify,
)
from tss.frost.core import compute_binding_factors
from tss.rng import FixedRng

VECTORS = Path("/work/shared/vectors")

CASES = [
    ("rfc9591/frost-secp256k1-sha256.json", "secp256k1"),
    ("rfc9591/frost-ed25519-sha512.json", "ed25519"),
    ("zf-frost/frost-secp256k1/vectors.json", "secp256k1"),
    ("zf-frost/frost-ed25519/vectors.json", "ed25519"),
    ("zf-frost/frost-secp256k1/vectors-big-identifier.json", "secp256k1"),
    ("zf-frost/frost-ed25519/vectors-big-identifier.json", "ed25519"),
    ("frost-secp256k1-tr/vectors.json", "secp256k1-tr"),
]


def _load(rel: str) -> dict:
    return json.loads((VECTORS / rel).read_text())


@pytest.mark.parametrize(("rel", "suite_name"), CASES)
def test_signing_transcript(rel: str, suite_name: str) -> None:
    v = _load(rel)
    suite = get_ciphersuite(suite_name)
    g = suite.group
    inputs = v["inputs"]
    secret = int.from_bytes(bytes.fromhex(inputs["group_secret_key"]), g.byteorder)
    coeffs = [secret] + [int.from_bytes(bytes.fromhex(c), g.byteorder) for c in inputs["share_polynomial_coefficients"]]
    n = int(v["config"]["MAX_PARTICIPANTS"])
    shares, public = keys_from_coefficients(suite, coeffs, range(1, n + 1))
    group_key = inputs.get("group_public_key") or inputs["verifying_key_key"]
    assert g.serialize_element(public.group_public_key).hex() == group_key
    for entry in inputs["participant_shares"]:
        assert g.serialize_scalar(shares[entry["identifier"]].signing_share).hex() == entry["participant_share"]

    message = bytes.fromhex(inputs["message"])
    nonces, comms = {}, []
    for out in v["round_one_outputs"]["outputs"]:
        i = out["identifier"]
        rng = FixedRng(
            chunks=[bytes.fromhex(out["hiding_nonce_randomness"]), bytes.fromhex(out["binding_nonce_randomness"])]
        )
        nonce, comm = commit(suite, shares[i], rng)
        assert g.serialize_element(comm.hiding).hex() == out["hiding_nonce_commitment"]
        assert g.serialize_element(comm.binding).hex() == out["binding_nonce_commitment"]
        nonces[i] = nonce
        comms.append(comm)
    rho = compute_binding_factors(suite, public.group_public_key, comms, message)
    for out in v["round_one_outputs"]["outputs"]:
        assert g.serialize_scalar(rho[out["identifier"]]).hex() == out["binding_factor"]

    sig_shares = []
    for out in v["round_two_outputs"]["outputs"]:
        i = out["identifier"]
        share = sign(suite, shares[i], nonces[i], message, comms)
        assert g.serialize_scalar(share.share).hex() == out["sig_share"]
        sig_shares.append(share)
    signature = aggregate(suite, public, message, comms, sig_shares, verify_shares=True)
    assert signature.hex() == v["final_output"]["sig"]
    assert verify(suite, public.group_public_key, message, signature)


@pytest.mark.parametrize(("rel", "suite_name"), CASES[:2])
def test_vector_nonces(rel: str, suite_name: str) -> None:
    """hiding/binding nonces themselves (RFC 9591 §4.1 nonce_generate)."""
    from tss.frost.round1 import nonce_generate

    v = _load(rel)
    suite = get_ciphersuite(suite_name)
    g = suite.group
    shares = {e["identifier"]: bytes.fromhex(e["participant_share"]) for e in v["inputs"]["participant_shares"]}
    for out in v["round_one_outputs"]["outputs"]:
        sk = g.deserialize_scalar(shares[out["identifier"]])
        for kind in ("hiding", "binding"):
            rng = FixedRng(bytes.fromhex(out[f"{kind}_nonce_randomness"]))
            assert g.serialize_scalar(nonce_generate(suite, sk, rng)).hex() == out[f"{kind}_nonce"]


def test_signature_share_roundtrip() -> None:
    suite = get_ciphersuite("ed25519")
    s = SignatureShare(3, 12345)
    assert SignatureShare.from_bytes(suite, s.to_bytes(suite)) == s
