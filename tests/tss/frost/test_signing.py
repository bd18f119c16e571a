"""FROST signing: end-to-end runs, verifiers, commitment-list validation (SECURITY.md I4, table
row 11), nonce single use (row 12, tss level), aggregation culprits (row 16, tss level)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tss.errors import EncodingError, InvalidInputError, NonceReuseError, ProtocolError
from tss.frost import (
    KeyShare,
    PublicKeyPackage,
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    aggregate,
    commit,
    get_ciphersuite,
    preprocess,
    sign,
    trusted_dealer_keygen,
    verify,
    verify_signature_share,
)
from tss.frost.taproot import TaprootTweak
from tss.groups import Element

from .helpers import SUITES, digest, independent_verify, run_signing


@pytest.fixture(scope="module", params=SUITES)
def setup(request: pytest.FixtureRequest):
    suite = get_ciphersuite(request.param)
    shares, public = trusted_dealer_keygen(suite, 3, [1, 2, 3, 4, 5])
    return suite, shares, public


def test_every_subset_signs(setup) -> None:
    suite, shares, public = setup
    for size in (3, 4, 5):
        for signers in itertools.combinations([1, 2, 3, 4, 5], size):
            msg = digest(f"msg {signers}")
            sig = run_signing(suite, shares, public, list(signers), msg)
            assert verify(suite, public.group_public_key, msg, sig)
            assert independent_verify(suite, public, msg, sig)
            if size > 3:
                break


def test_below_threshold_cannot_sign(setup) -> None:
    suite, shares, public = setup
    pairs = {i: commit(suite, shares[i]) for i in (1, 2)}
    comms = [pairs[1][1], pairs[2][1]]
    with pytest.raises(ProtocolError) as exc:
        sign(suite, shares[1], pairs[1][0], b"m", comms)
    assert exc.value.reason == "commitment_list_size"
    # Forcing it past the check with a fake 2-of-n package does not give a valid signature either.
    fake = replace(public, threshold=2)
    fake_shares = {i: KeyShare(i, shares[i].signing_share, fake) for i in (1, 2)}
    pairs = {i: commit(suite, fake_shares[i]) for i in (1, 2)}
    comms = [pairs[1][1], pairs[2][1]]
    sig_shares = [sign(suite, fake_shares[i], pairs[i][0], b"m", comms) for i in (1, 2)]
    with pytest.raises(ProtocolError) as exc:
        aggregate(suite, fake, b"m", comms, sig_shares)
    assert exc.value.reason in {"invalid_signature_share", "invalid_signature"}


def test_wrong_message_does_not_verify(setup) -> None:
    suite, shares, public = setup
    sig = run_signing(suite, shares, public, [1, 2, 3], b"hello")
    assert not verify(suite, public.group_public_key, b"hellp", sig)
    bad = bytearray(sig)
    bad[-1] ^= 1
    assert not verify(suite, public.group_public_key, b"hello", bytes(bad))


def test_signature_lengths(setup) -> None:
    suite, shares, public = setup
    sig = run_signing(suite, shares, public, [2, 4, 5], b"x")
    assert len(sig) == {"ed25519": 64, "secp256k1": 65, "secp256k1-tr": 64}[suite.name]


def _round1(suite, shares, signers):
    pairs = {i: commit(suite, shares[i]) for i in signers}
    return pairs, [pairs[i][1] for i in signers]


def test_commitment_list_checks(setup) -> None:
    suite, shares, _public = setup
    g = suite.group
    pairs, comms = _round1(suite, shares, [1, 2, 3])
    nonce1 = pairs[1][0]

    def rejects(lst, reason):
        with pytest.raises(ProtocolError) as exc:
            sign(suite, shares[1], nonce1, b"m", lst)
        assert exc.value.reason == reason
        assert not nonce1.spent  # no share produced, nonce untouched

    rejects([comms[1], comms[0], comms[2]], "commitment_list_unsorted")
    rejects([comms[0], comms[1], comms[1], comms[2]], "commitment_list_duplicate")
    rejects([*comms[1:], commit(suite, shares[4])[1]], "own_commitment_missing")
    other = commit(suite, shares[1])[1]
    rejects([other, comms[1], comms[2]], "own_commitment_mismatch")
    rejects(comms[:2], "commitment_list_size")
    extra = [commit(suite, shares[i])[1] for i in (4, 5)]
    rejects([*comms, *extra, SigningCommitments(6, comms[0].hiding, comms[0].binding)], "commitment_list_size")
    rejects([comms[0], comms[1], SigningCommitments(9, comms[2].hiding, comms[2].binding)], "unknown_signer")
    ident = SigningCommitments(3, g.identity, comms[2].binding)
    with pytest.raises(ProtocolError) as exc:
        sign(suite, shares[1], nonce1, b"m", [comms[0], comms[1], ident])
    assert exc.value.reason == "identity_commitment" and exc.value.culprits == (3,)
    forged = SigningCommitments(2, comms[1].hiding, Element(b"\x02" + b"\xff" * (g.element_len - 1)))
    with pytest.raises(ProtocolError) as exc:
        sign(suite, shares[1], nonce1, b"m", [comms[0], forged, comms[2]])
    assert exc.value.reason == "invalid_commitment_encoding" and exc.value.culprits == (2,)
    assert not nonce1.spent
    sign(suite, shares[1], nonce1, b"m", comms)
    with pytest.raises(NonceReuseError):
        sign(suite, shares[1], nonce1, b"other message", comms)
    with pytest.raises(NonceReuseError):  # same message, another signer set
        sign(suite, shares[1], nonce1, b"m", [comms[0], comms[1], commit(suite, shares[4])[1]])
    with pytest.raises(NonceReuseError):  # byte-identical repeat is refused too (the node replays its stored share)
        sign(suite, shares[1], nonce1, b"m", comms)


def test_identity_group_commitment_aborts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commitments that sum to the identity abort before a share exists (RFC 9591 §4.5/§5.2)."""
    import tss.frost.core as core

    suite = get_ciphersuite("secp256k1")
    shares, _ = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    pairs, comms = _round1(suite, shares, [1, 2])
    monkeypatch.setattr(core, "compute_group_commitment", lambda *a, **k: suite.group.identity)
    with pytest.raises(ProtocolError) as exc:
        sign(suite, shares[1], pairs[1][0], b"m", comms)
    assert exc.value.reason == "identity_group_commitment"
    assert not pairs[1][0].spent


@pytest.mark.parametrize("suite_name", SUITES)
def test_malformed_commitment_encodings(suite_name: str) -> None:
    suite = get_ciphersuite(suite_name)
    g = suite.group
    shares, _ = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    _, comm = commit(suite, shares[1])
    good = comm.to_bytes(suite)
    assert SigningCommitments.from_bytes(suite, good) == comm
    ns, ne = g.scalar_len, g.element_len
    cases = [
        good[:-1],
        g.order.to_bytes(ns, g.byteorder) + good[ns:],  # identifier >= q
        bytes(ns) + good[ns:],  # identifier 0
        good[:ns] + g.serialize_element_or_identity(g.identity) + good[ns + ne :],  # identity point
        good[:ns] + b"\xff" * ne + good[ns + ne :],  # y >= p / x >= p
    ]
    if suite_name == "ed25519":
        small = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
        cases.append(good[:ns] + good[ns : ns + ne] + small)
    for data in cases:
        with pytest.raises(EncodingError):
            SigningCommitments.from_bytes(suite, data)
    share = SignatureShare(1, 5).to_bytes(suite)
    with pytest.raises(EncodingError):
        SignatureShare.from_bytes(suite, share[:ns] + g.order.to_bytes(ns, g.byteorder))


def test_bad_share_names_culprit(setup) -> None:
    suite, shares, public = setup
    pairs, comms = _round1(suite, shares, [1, 3, 5])
    sig_shares = [sign(suite, shares[i], pairs[i][0], b"m", comms) for i in (1, 3, 5)]
    tampered = [sig_shares[0], SignatureShare(3, (sig_shares[1].share + 1) % suite.group.order), sig_shares[2]]
    with pytest.raises(ProtocolError) as exc:
        aggregate(suite, public, b"m", comms, tampered)
    assert exc.value.reason == "invalid_signature_share" and exc.value.culprits == (3,)
    with pytest.raises(ProtocolError) as exc:
        aggregate(suite, public, b"m", comms, sig_shares[:2])
    assert exc.value.reason == "missing_signature_share" and exc.value.culprits == (5,)
    assert aggregate(suite, public, b"m", comms, sig_shares, verify_shares=True)
    assert verify_signature_share(suite, public, b"m", comms, sig_shares[1])
    assert not verify_signature_share(suite, public, b"m", comms, tampered[1])
    assert not verify_signature_share(suite, public, b"other", comms, sig_shares[1])


def test_nonce_bound_to_signer_and_serialisation() -> None:
    suite = get_ciphersuite("ed25519")
    shares, _public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    nonces, comm = commit(suite, shares[1])
    data = nonces.to_bytes()
    restored = SigningNonces.from_bytes(data)
    assert restored.commitments == comm
    assert "redacted" in repr(nonces) and data.hex() not in repr(nonces)
    n2, c2 = commit(suite, shares[2])
    with pytest.raises(InvalidInputError):
        sign(suite, shares[1], n2, b"m", [comm, c2])
    sign(suite, shares[1], restored, b"m", [comm, c2])
    with pytest.raises(NonceReuseError):
        restored.to_bytes()
    batch = preprocess(suite, shares[1], 5)
    assert len({c.to_bytes(suite) for _, c in batch}) == 5


@pytest.mark.parametrize("suite_name", SUITES)
def test_stored_nonces_must_carry_exactly_their_own_commitments(suite_name: str) -> None:
    """SigningNonces.from_bytes derives d·B and e·B and compares them with the stored encodings: another
    valid commitment, swapped points, the identity, a wrong length or a zero nonce are all refused."""
    suite = get_ciphersuite(suite_name)
    shares, _public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    nonces, comm = commit(suite, shares[1])
    _other, other_comm = commit(suite, shares[1])
    record = json.loads(nonces.to_bytes())
    assert SigningNonces.from_bytes(nonces.to_bytes()).commitments == comm
    g, ns = suite.group, suite.group.scalar_len
    own = bytes.fromhex(record["commitments"])
    swapped = own[:ns] + g.serialize_element(comm.binding) + g.serialize_element(comm.hiding)
    identity = own[:ns] + g.serialize_element_or_identity(g.identity) + own[ns + g.element_len:]
    zero_nonce = {**record, "hiding": g.serialize_scalar(0).hex()}
    for changed in ({**record, "commitments": other_comm.to_bytes(suite).hex()},
                    {**record, "commitments": swapped.hex()}, {**record, "commitments": identity.hex()},
                    {**record, "commitments": own[:-1].hex()}, zero_nonce):
        with pytest.raises(EncodingError):
            SigningNonces.from_bytes(json.dumps(changed).encode())


def test_key_share_serialisation_and_repr(setup) -> None:
    suite, shares, public = setup
    s = shares[2]
    assert KeyShare.from_bytes(s.to_bytes()) == s
    assert PublicKeyPackage.from_bytes(public.to_bytes()) == public
    assert PublicKeyPackage.from_dict(public.to_dict()) == public
    secret_hex = suite.group.serialize_scalar(s.signing_share).hex()
    assert secret_hex not in repr(s) and secret_hex not in str(s)
    assert str(s.signing_share) not in repr(s)
    # A share that does not match its verifying share is refused.
    import json

    obj = json.loads(s.to_bytes())
    obj["signing_share"] = suite.group.serialize_scalar((s.signing_share + 1) % suite.group.order).hex()
    with pytest.raises(InvalidInputError):
        KeyShare.from_bytes(json.dumps(obj).encode())
    # Inconsistent public package is refused.
    d = public.to_dict()
    d["verifying_shares"]["1"], d["verifying_shares"]["2"] = d["verifying_shares"]["2"], d["verifying_shares"]["1"]
    with pytest.raises(InvalidInputError):
        PublicKeyPackage.from_dict(d)
    d = public.to_dict()  # the last share (outside the first t) is checked too
    d["verifying_shares"]["5"] = d["verifying_shares"]["4"]
    with pytest.raises(InvalidInputError):
        PublicKeyPackage.from_dict(d)
    d = public.to_dict()  # identifier 0 (row 10)
    d["verifying_shares"]["0"] = d["verifying_shares"].pop("5")
    with pytest.raises(InvalidInputError):
        PublicKeyPackage.from_dict(d)


def test_taproot_only_for_tr() -> None:
    suite = get_ciphersuite("secp256k1")
    shares, _public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    pairs, comms = _round1(suite, shares, [1, 2])
    with pytest.raises(InvalidInputError):
        sign(suite, shares[1], pairs[1][0], b"m", comms, taproot=TaprootTweak())


def test_tr_odd_key_and_tweaks() -> None:
    """Keys with odd y, BIP-86 tweak and a script-tree tweak all give valid BIP-340 signatures."""
    from coincurve import PublicKeyXOnly

    from tss.frost import taproot_output_key

    suite = get_ciphersuite("secp256k1-tr")
    g = suite.group
    seen_parity = set()
    for k in range(1, 9):
        shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3], secret=k * 7919)
        seen_parity.add(g.has_even_y(public.group_public_key))
        for tweak in (None, TaprootTweak(), TaprootTweak(bytes(range(32)))):
            msg = digest(f"{k}{tweak}")
            sig = run_signing(suite, shares, public, [1, 3], msg, taproot=tweak)
            key = (
                g.x_bytes(public.group_public_key)
                if tweak is None
                else taproot_output_key(public.group_public_key, tweak.merkle_root)[0]
            )
            assert PublicKeyXOnly(key).verify(sig, msg)
    assert seen_parity == {True, False}


@pytest.mark.parametrize("suite_name", SUITES)
@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=0, max_size=140))
def test_commitment_decoder_fuzz(suite_name: str, data: bytes) -> None:
    """Arbitrary bytes: SigningCommitments.from_bytes either raises EncodingError or round-trips."""
    suite = get_ciphersuite(suite_name)
    try:
        comm = SigningCommitments.from_bytes(suite, data)
    except EncodingError:
        return
    assert comm.to_bytes(suite) == data


@pytest.mark.parametrize("suite_name", SUITES)
@settings(max_examples=10, deadline=None)
@given(msg=st.binary(max_size=64), signers=st.sets(st.integers(1, 4), min_size=2, max_size=4))
def test_sign_property(suite_name: str, msg: bytes, signers: set[int]) -> None:
    """Any message, any signer set of size >= t: the signature verifies, and not for msg + b"x"."""
    suite, shares, public = _PROP_KEYS[suite_name]
    sig = run_signing(suite, shares, public, sorted(signers), msg)
    assert verify(suite, public.group_public_key, msg, sig)
    assert not verify(suite, public.group_public_key, msg + b"x", sig)


_PROP_KEYS = {
    name: (get_ciphersuite(name), *trusted_dealer_keygen(get_ciphersuite(name), 2, [1, 2, 3, 4])) for name in SUITES
}
