"""Refresh and reshare (SECURITY.md R1, R2, R5; table rows 9 and 15), driven as RoundProtocols."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tss.errors import InvalidInputError, ProtocolError
from tss.frost import (
    FrostRefresh,
    FrostReshare,
    KeyShare,
    aggregate,
    commit,
    get_ciphersuite,
    sign,
    trusted_dealer_keygen,
    verify,
)
from tss.frost.vss_session import encode_commit
from tss.messages import RoundMessage
from tss.shamir import commit_polynomial, lagrange_coefficient

from .helpers import SUITES, independent_verify, run_protocol, run_signing


def _refresh_states(shares: dict[int, KeyShare], ssid: bytes = b"refresh-1") -> dict[int, bytes]:
    return {i: FrostRefresh.initial_state(ssid=ssid, key_share=s) for i, s in shares.items()}


def _results(outs) -> dict[int, KeyShare]:
    return {i: KeyShare.from_bytes(o.result) for i, o in outs.items() if o.result is not None}


@pytest.mark.parametrize("suite_name", SUITES)
def test_refresh_keeps_key_and_changes_shares(suite_name: str) -> None:
    suite = get_ciphersuite(suite_name)
    shares, public = trusted_dealer_keygen(suite, 3, [1, 2, 3, 4, 5])
    new = _results(run_protocol(FrostRefresh(), _refresh_states(shares)))
    new_public = new[1].public
    assert new_public.group_public_key == public.group_public_key
    assert new_public.epoch == public.epoch + 1 and new_public.threshold == 3
    assert all(new[i].signing_share != shares[i].signing_share for i in new)
    for signers in ([1, 2, 3], [3, 4, 5], [1, 2, 3, 4, 5]):
        msg = f"refreshed {signers}".encode()
        sig = run_signing(suite, new, new_public, signers, msg)
        assert verify(suite, public.group_public_key, msg, sig)
        assert independent_verify(suite, new_public, msg, sig)


def test_old_and_new_shares_do_not_combine() -> None:
    suite = get_ciphersuite("secp256k1")
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    new = _results(run_protocol(FrostRefresh(), _refresh_states(shares)))
    mixed = {1: shares[1], 2: new[2]}
    pairs = {i: commit(suite, mixed[i]) for i in (1, 2)}
    comms = [pairs[1][1], pairs[2][1]]
    sig_shares = [sign(suite, mixed[i], pairs[i][0], b"m", comms) for i in (1, 2)]
    with pytest.raises(ProtocolError) as exc:
        aggregate(suite, new[1].public, b"m", comms, sig_shares)
    assert exc.value.reason == "invalid_signature_share" and exc.value.culprits == (1,)
    with pytest.raises(ProtocolError):
        aggregate(suite, public, b"m", comms, sig_shares)
    # Direct interpolation of mixed shares does not give the key either.
    g = suite.group
    lam1, lam2 = (lagrange_coefficient(g, [1, 2], i) for i in (1, 2))
    assert g.base_mul(lam1 * shares[1].signing_share + lam2 * new[2].signing_share) != public.group_public_key


def _tamper_commit(sender: int, payload: bytes):
    def tamper(_r: int, msg: RoundMessage) -> RoundMessage:
        if msg.sender == sender and msg.round == 1:
            return replace(msg, payload=payload)
        return msg

    return tamper


@pytest.mark.parametrize("suite_name", SUITES)
def test_refresh_nonzero_constant_rejected_old_shares_still_work(suite_name: str) -> None:
    suite = get_ciphersuite(suite_name)
    g = suite.group
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    bad = encode_commit(suite, commit_polynomial(g, [7, 11]), None)  # shares 7 instead of 0: moves the key
    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostRefresh(), _refresh_states(shares), tamper=_tamper_commit(2, bad))
    assert exc.value.reason == "nonzero_refresh_constant" and exc.value.culprits == (2,)
    sig = run_signing(suite, shares, public, [1, 2], b"still works")
    assert verify(suite, public.group_public_key, b"still works", sig)


def test_refresh_bad_share_and_length() -> None:
    suite = get_ciphersuite("ed25519")
    g = suite.group
    shares, _ = trusted_dealer_keygen(suite, 2, [1, 2, 3])

    def bump(_r: int, msg: RoundMessage) -> RoundMessage:
        if msg.sender == 3 and msg.kind.endswith("share"):
            return replace(msg, payload=g.serialize_scalar((g.deserialize_scalar(msg.payload) + 1) % g.order))
        return msg

    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostRefresh(), _refresh_states(shares), tamper=bump)
    assert exc.value.reason == "invalid_share" and exc.value.culprits == (3,)
    longer = encode_commit(suite, [g.identity, *commit_polynomial(g, [3, 4])], None)
    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostRefresh(), _refresh_states(shares), tamper=_tamper_commit(1, longer))
    assert exc.value.reason == "invalid_commitment_length" and exc.value.culprits == (1,)

    def flip_echo(_r: int, msg: RoundMessage) -> RoundMessage:
        if msg.sender == 2 and msg.kind.endswith("echo"):
            return replace(msg, payload=msg.payload[:-1] + bytes([msg.payload[-1] ^ 1]))
        return msg

    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostRefresh(), _refresh_states(shares), tamper=flip_echo)
    assert exc.value.reason == "broadcast_mismatch"


def _reshare_states(shares, public, dealers, new_ids, new_t, ssid=b"reshare-1") -> dict[int, bytes]:
    parties = sorted(set(dealers) | set(new_ids))
    return {
        p: FrostReshare.initial_state(
            ssid=ssid,
            identifier=p,
            old_public=public,
            dealers=dealers,
            new_participants=new_ids,
            new_threshold=new_t,
            key_share=shares[p] if p in dealers else None,
        )
        for p in parties
    }


@pytest.mark.parametrize("suite_name", SUITES)
@pytest.mark.parametrize(
    ("t", "n", "dealers", "new_ids", "new_t"),
    [
        (2, 3, [1, 3], [1, 2, 3, 4, 5], 3),  # grow 2-of-3 -> 3-of-5
        (3, 5, [2, 4, 5], [1, 2, 3], 2),  # shrink 3-of-5 -> 2-of-3 (4 and 5 leave)
        (2, 3, [1, 2, 3], [4, 5, 6], 2),  # entirely new committee
    ],
)
def test_reshare(suite_name: str, t: int, n: int, dealers: list[int], new_ids: list[int], new_t: int) -> None:
    suite = get_ciphersuite(suite_name)
    shares, public = trusted_dealer_keygen(suite, t, list(range(1, n + 1)))
    outs = run_protocol(FrostReshare(), _reshare_states(shares, public, dealers, new_ids, new_t))
    new = _results(outs)
    assert sorted(new) == new_ids
    new_public = new[new_ids[0]].public
    assert new_public.group_public_key == public.group_public_key
    assert new_public.threshold == new_t and new_public.participants == new_ids and new_public.epoch == 1
    for p, o in outs.items():
        assert o.public_result["public_key_package"] == new_public.to_dict()
        if p not in new_ids:
            assert o.result is None
    signers = new_ids[-new_t:]
    sig = run_signing(suite, new, new_public, signers, b"after reshare")
    assert verify(suite, public.group_public_key, b"after reshare", sig)
    assert independent_verify(suite, new_public, b"after reshare", sig)


@pytest.mark.parametrize("suite_name", SUITES)
def test_reshare_wrong_constant_named(suite_name: str) -> None:
    """Row 15: a dealer sharing λ_j·s_j + 1 would move the key; its C_{j,0} check names it."""
    suite = get_ciphersuite(suite_name)
    g = suite.group
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    dealers = [1, 3]
    lam = lagrange_coefficient(g, dealers, 3)
    wrong = encode_commit(suite, commit_polynomial(g, [(lam * shares[3].signing_share + 1) % g.order, 5, 9]), None)
    with pytest.raises(ProtocolError) as exc:
        run_protocol(
            FrostReshare(), _reshare_states(shares, public, dealers, [1, 2, 3, 4], 3), tamper=_tamper_commit(3, wrong)
        )
    assert exc.value.reason == "invalid_reshare_constant" and exc.value.culprits == (3,)
    identity = encode_commit(suite, [g.identity, *commit_polynomial(g, [5, 9])], None)
    with pytest.raises(ProtocolError) as exc:
        run_protocol(
            FrostReshare(),
            _reshare_states(shares, public, dealers, [1, 2, 3, 4], 3),
            tamper=_tamper_commit(1, identity),
        )
    assert exc.value.culprits == (1,)


def test_reshare_config_checks() -> None:
    suite = get_ciphersuite("ed25519")
    shares, public = trusted_dealer_keygen(suite, 3, [1, 2, 3, 4])
    with pytest.raises(InvalidInputError):  # t-1 dealers
        _reshare_states(shares, public, [1, 2], [1, 2, 3], 2)
    with pytest.raises(InvalidInputError):  # dealer without its share
        FrostReshare.initial_state(
            ssid=b"s", identifier=1, old_public=public, dealers=[1, 2, 3], new_participants=[1, 2, 3], new_threshold=2
        )
    with pytest.raises(InvalidInputError):  # non-holder as dealer
        _reshare_states({**shares, 9: shares[1]}, public, [1, 2, 9], [1, 2, 3], 2)
    with pytest.raises(InvalidInputError):  # new threshold above new n
        _reshare_states(shares, public, [1, 2, 3], [1, 2], 3)


def test_sessions_with_different_views_abort() -> None:
    """A party configured with another session id disagrees in the echo (config digest, R5)."""
    suite = get_ciphersuite("secp256k1")
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])
    states = _reshare_states(shares, public, [1, 2], [1, 2, 3], 2)
    states[3] = _reshare_states(shares, public, [1, 2], [1, 2, 3], 2, ssid=b"other")[3]
    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostReshare(), states)
    assert exc.value.reason == "session_config_mismatch"


@pytest.mark.parametrize("suite_name", SUITES)
def test_reshare_corrupted_share_and_echo_named(suite_name: str) -> None:
    suite = get_ciphersuite(suite_name)
    g = suite.group
    shares, public = trusted_dealer_keygen(suite, 2, [1, 2, 3])

    def states():
        return _reshare_states(shares, public, [2, 3], [1, 2, 3, 4], 3)

    def bump(_r: int, msg: RoundMessage) -> RoundMessage:
        if msg.sender == 3 and msg.kind.endswith("share") and _r == 4:
            return replace(msg, payload=g.serialize_scalar((g.deserialize_scalar(msg.payload) + 1) % g.order))
        return msg

    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostReshare(), states(), tamper=bump)
    assert exc.value.reason == "invalid_share" and exc.value.culprits == (3,)

    def flip_echo(_r: int, msg: RoundMessage) -> RoundMessage:
        if msg.sender == 1 and msg.kind.endswith("echo"):  # a receiver-only party lies in its echo
            return replace(msg, payload=msg.payload[:-1] + bytes([msg.payload[-1] ^ 1]))
        return msg

    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostReshare(), states(), tamper=flip_echo)
    assert exc.value.reason == "broadcast_mismatch"

    wrong_length = encode_commit(suite, commit_polynomial(g, [1, 2]), None)
    with pytest.raises(ProtocolError) as exc:
        run_protocol(FrostReshare(), states(), corrupt={2: lambda _p: wrong_length})
    assert exc.value.reason == "invalid_commitment_length" and exc.value.culprits == (2,)
