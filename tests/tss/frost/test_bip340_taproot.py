"""BIP-340 verify/sign on bitcoin/bips bip-0340/test-vectors.csv (all 19 cases) and BIP-341 tweaks
on bip-0341/wallet-test-vectors.json; FROST secp256k1-tr key-path signing under those tweaks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from coincurve import PublicKeyXOnly

from tss.frost import (
    TaprootTweak,
    aggregate,
    commit,
    get_ciphersuite,
    sign,
    taproot_output_key,
    trusted_dealer_keygen,
    verify,
)
from tss.frost.bip340 import sign as bip340_sign
from tss.frost.bip340 import verify as bip340_verify
from tss.frost.taproot import tap_tweak

VECTORS = Path("/work/shared/vectors")
BIP340 = list(csv.DictReader((VECTORS / "bip340/test-vectors.csv").open()))
BIP341 = json.loads((VECTORS / "bip341/wallet-test-vectors.json").read_text())


def test_bip340_has_19_cases() -> None:
    assert len(BIP340) == 19


@pytest.mark.parametrize("row", BIP340, ids=lambda r: r["index"])
def test_bip340_vector(row: dict[str, str]) -> None:
    pk = bytes.fromhex(row["public key"])
    msg = bytes.fromhex(row["message"])
    sig = bytes.fromhex(row["signature"])
    expected = row["verification result"] == "TRUE"
    assert bip340_verify(pk, msg, sig) is expected
    if row["secret key"]:
        assert bip340_sign(bytes.fromhex(row["secret key"]), msg, bytes.fromhex(row["aux_rand"])) == sig


@pytest.mark.parametrize("case", BIP341["scriptPubKey"], ids=lambda c: c["expected"]["bip350Address"][:12])
def test_bip341_output_key(case: dict) -> None:
    internal = bytes.fromhex(case["given"]["internalPubkey"])
    root = case["intermediary"]["merkleRoot"]
    root_b = bytes.fromhex(root) if root else None
    assert tap_tweak(internal, root_b).to_bytes(32, "big").hex() == case["intermediary"]["tweak"]
    out, _parity = taproot_output_key(internal, root_b)
    assert out.hex() == case["intermediary"]["tweakedPubkey"]
    assert case["expected"]["scriptPubKey"] == "5120" + out.hex()


KEYPATH = BIP341["keyPathSpending"][0]["inputSpending"]


@pytest.mark.parametrize("case", KEYPATH, ids=lambda c: str(c["given"]["txinIndex"]))
def test_frost_tr_keypath_spend(case: dict) -> None:
    """Import the BIP-341 internal key with the dealer, sign sigHash 2-of-3 with the tweak, and check
    the signature under the vector's tweaked key with our verifier and libsecp256k1's."""
    suite = get_ciphersuite("secp256k1-tr")
    g = suite.group
    secret = int(case["given"]["internalPrivkey"], 16)
    root = case["given"]["merkleRoot"]
    tweak = TaprootTweak(bytes.fromhex(root) if root else None)
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3], secret=secret)
    assert g.x_bytes(public.group_public_key).hex() == case["intermediary"]["internalPubkey"]
    assert (
        tap_tweak(g.x_bytes(public.group_public_key), tweak.merkle_root).to_bytes(32, "big").hex()
        == (case["intermediary"]["tweak"])
    )
    msg = bytes.fromhex(case["intermediary"]["sigHash"])
    signers = [1, 3]
    pairs = {i: commit(suite, shares[i]) for i in signers}
    comms = [pairs[i][1] for i in signers]
    sig_shares = [sign(suite, shares[i], pairs[i][0], msg, comms, taproot=tweak) for i in signers]
    sig = aggregate(suite, public, msg, comms, sig_shares, taproot=tweak, verify_shares=True)
    out_key, _ = taproot_output_key(public.group_public_key, tweak.merkle_root)
    tweaked_priv = bytes.fromhex(case["intermediary"]["tweakedPrivkey"])
    assert g.x_bytes(g.base_mul(int.from_bytes(tweaked_priv, "big"))) == out_key
    assert bip340_verify(out_key, msg, sig)
    assert PublicKeyXOnly(out_key).verify(sig, msg)
    assert verify(suite, public.group_public_key, msg, sig, taproot=tweak)
    assert not verify(suite, public.group_public_key, msg, sig)  # not valid under the internal key
