"""BIP-32 public derivation (tss.hd) on bitcoin/bips bip-0032 test vectors 1 and 2
(/work/shared/vectors/bip32/bip-0032-test-vectors-section.mediawiki.txt), against bip-utils, and
threshold signing with derived shares (FROST secp256k1, secp256k1-tr with the BIP-341 tweak, GG20)
verified under the child key by independent verifiers."""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

import pytest
from bip_utils import Bip32Secp256k1
from coincurve import PublicKey, PublicKeyXOnly

from tests.tss.ecdsa.fixtures import keygen_run
from tests.tss.ecdsa.harness import run
from tests.tss.frost.helpers import independent_verify, run_signing
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol, MemoryPresignatureStore
from tss.errors import InvalidInputError
from tss.frost import TaprootTweak, get_ciphersuite, taproot_output_key, trusted_dealer_keygen
from tss.hd import (
    DerivationError,
    ExtendedPublicKey,
    HardenedDerivationError,
    chain_code_from_ssid,
    derive_child,
    parse_path,
)

VECTOR_FILE = Path("/work/shared/vectors/bip32/bip-0032-test-vectors-section.mediawiki.txt")


def _chains() -> dict[tuple[int, str], str]:
    """(vector number, chain path as written) -> ext pub."""
    out: dict[tuple[int, str], str] = {}
    vector, chain = 0, ""
    for line in VECTOR_FILE.read_text().splitlines():
        if m := re.match(r"===Test vector (\d+)===", line):
            vector = int(m.group(1))
        elif m := re.match(r"\* Chain (\S+)", line):
            chain = m.group(1).replace("<sub>H</sub>", "H")
        elif m := re.match(r"\*\* ext pub: (\S+)", line):
            out[(vector, chain)] = m.group(1)
    return out


CHAINS = _chains()
# Every non-hardened step the vectors publish: (vector, parent chain, child index, child chain).
STEPS = [
    (1, "m/0H", 1, "m/0H/1"),
    (1, "m/0H/1/2H", 2, "m/0H/1/2H/2"),
    (1, "m/0H/1/2H/2", 1000000000, "m/0H/1/2H/2/1000000000"),
    (2, "m", 0, "m/0"),
    (2, "m/0/2147483647H", 1, "m/0/2147483647H/1"),
    (2, "m/0/2147483647H/1/2147483646H", 2, "m/0/2147483647H/1/2147483646H/2"),
]


def test_vectors_are_read() -> None:
    assert len(CHAINS) >= 12
    assert all((v, c) in CHAINS and (v, child) in CHAINS for v, c, _i, child in STEPS)


@pytest.mark.parametrize("vector,parent,index,child", STEPS)
def test_ckdpub_matches_bip32_vectors(vector: int, parent: str, index: int, child: str) -> None:
    xpub = ExtendedPublicKey.from_base58(CHAINS[(vector, parent)])
    assert xpub.to_base58() == CHAINS[(vector, parent)]
    derived, _tweak = xpub.child(index)
    assert derived.to_base58() == CHAINS[(vector, child)]


def test_root_xpub_roundtrip_and_depth_zero_rules() -> None:
    root = ExtendedPublicKey.from_base58(CHAINS[(1, "m")])
    assert (root.depth, root.parent_fingerprint, root.child_number) == (0, b"\0\0\0\0", 0)
    corrupted = CHAINS[(1, "m")][:-1] + ("1" if CHAINS[(1, "m")][-1] != "1" else "2")
    with pytest.raises(DerivationError):
        ExtendedPublicKey.from_base58(corrupted)


@pytest.mark.parametrize("path", ["m/0/17", "m/1/2/3", "m/2147483647/0", "m/44/0/0/0/5"])
def test_matches_bip_utils_and_private_derivation(path: str) -> None:
    """The tweak is what the private child adds: k_child = k_root + δ (mod n), for a random root."""
    seed = secrets.token_bytes(32)
    root = Bip32Secp256k1.FromSeed(seed)
    xpub = ExtendedPublicKey(root.PublicKey().RawCompressed().ToBytes(), root.ChainCode().ToBytes())
    assert xpub.to_base58() == root.PublicKey().ToExtended()
    derived = xpub.derive(path)
    lib_child = Bip32Secp256k1.FromExtendedKey(root.PublicKey().ToExtended()).DerivePath(path)
    assert derived.xpub.to_base58() == lib_child.PublicKey().ToExtended()
    private_child = root.DerivePath(path).PrivateKey().Raw().ToBytes()
    root_secret = int.from_bytes(root.PrivateKey().Raw().ToBytes(), "big")
    n = get_ciphersuite("secp256k1").group.order
    assert (root_secret + derived.tweak) % n == int.from_bytes(private_child, "big")


@pytest.mark.parametrize("path", ["m/0'", "m/0h", "m/0H", "m/2147483648", "m/1/4294967295"])
def test_hardened_paths_refused(path: str) -> None:
    with pytest.raises(HardenedDerivationError):
        parse_path(path)


@pytest.mark.parametrize("path", ["", "0/1", "m/", "m//1", "m/01", "m/+1", "m/-1", "m/1.5", "M/1", "m/ 1",
                                  "m/99999999999", "/".join(["m"] + ["1"] * 256)])
def test_malformed_paths_refused(path: str) -> None:
    with pytest.raises(DerivationError):
        parse_path(path)


def test_root_path_is_the_key_itself() -> None:
    xpub = ExtendedPublicKey(PublicKey.from_secret(b"\x01" * 32).format(), b"\x02" * 32)
    derived = xpub.derive("m")
    assert derived.tweak == 0 and derived.xpub == xpub


def test_chain_code_is_a_tagged_hash_of_the_ssid() -> None:
    ssid = hashlib.sha256(b"keygen").digest()
    assert chain_code_from_ssid(ssid) != chain_code_from_ssid(hashlib.sha256(b"other").digest())
    assert chain_code_from_ssid(ssid) == hashlib.sha256(b"mpc-signer/bip32-chain-code/v1\x00" + ssid).digest()
    with pytest.raises(InvalidInputError):
        chain_code_from_ssid(b"short")


@pytest.mark.parametrize("suite_name", ["secp256k1", "secp256k1-tr"])
@pytest.mark.parametrize("path", ["m/0/17", "m/7"])
def test_frost_child_signatures_verify_under_the_child_key(suite_name: str, path: str) -> None:
    suite = get_ciphersuite(suite_name)
    g = suite.group
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    chain_code = secrets.token_bytes(32)
    root_point = g.serialize_element(public.group_public_key)  # 33-byte compressed (any y parity)
    derived = derive_child(root_point, chain_code, path)
    lib_child = Bip32Secp256k1.FromExtendedKey(ExtendedPublicKey(root_point, chain_code).to_base58()).DerivePath(path)
    assert lib_child.PublicKey().RawCompressed().ToBytes() == derived.public_key
    child_shares = {i: s.with_tweak(derived.tweak) for i, s in shares.items()}
    child_public = public.with_tweak(derived.tweak)
    assert g.serialize_element(child_public.group_public_key) == derived.public_key
    message = hashlib.sha256(b"child message").digest()
    if suite_name == "secp256k1":
        sig = run_signing(suite, child_shares, child_public, [1, 3], message)
        assert independent_verify(suite, child_public, message, sig)
        assert not independent_verify(suite, public, message, sig)
        return
    # Taproot: the child is the internal key (BIP-86: x-only of the child point, either y parity),
    # then the BIP-341 tweak with or without a script tree.
    for root in (None, hashlib.sha256(b"script tree").digest()):
        sig = run_signing(suite, child_shares, child_public, [2, 3], message, taproot=TaprootTweak(root))
        output_key, _parity = taproot_output_key(derived.public_key[1:], root)
        assert PublicKeyXOnly(output_key).verify(sig, message)


def test_ed25519_has_no_bip32_children() -> None:
    suite = get_ciphersuite("ed25519")
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    with pytest.raises(InvalidInputError):
        public.with_tweak(5)
    with pytest.raises(InvalidInputError):
        shares[1].with_tweak(5)


def test_gg20_child_signature_verifies_under_the_child_key() -> None:
    shares, _ = keygen_run(2, 3)
    root_key = shares[1].group_key_bytes
    chain_code = secrets.token_bytes(32)
    derived = derive_child(root_key, chain_code, "m/0/17")
    child = {i: shares[i].with_tweak(derived.tweak) for i in (1, 3)}
    assert child[1].group_key_bytes == derived.public_key
    digest = hashlib.sha256(b"child ecdsa").digest()
    presigs = run({i: GG20PresignProtocol(session_id=b"hd-presign", key_share=child[i], signers=[1, 3])
                   for i in (1, 3)})
    outs = run({i: GG20SignProtocol(key_share=child[i], presignature=presigs[i].result, digest=digest,
                                    store=MemoryPresignatureStore()) for i in (1, 3)})
    sig = {o.result for o in outs.values()}.pop()
    assert PublicKey.from_signature_and_message(sig, digest, hasher=None).format() == derived.public_key
    # ... and not under the root key
    assert PublicKey.from_signature_and_message(sig, digest, hasher=None).format() != root_key
