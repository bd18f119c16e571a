"""Envelopes between nodes over an untrusted relay (SECURITY.md S2, S3, I2, C6; tests table #13, #14)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.envelope import (
    BROADCAST,
    Envelope,
    EnvelopeError,
    EquivocationError,
    InboxGuard,
    echo_digest,
    open_envelope,
    seal,
)
from mpc.identity import NodeIdentity

SSID = bytes.fromhex("11" * 32)
A, B, C = (NodeIdentity.generate(n) for n in ("node-a", "node-b", "node-c"))
HDR = {"ssid": SSID, "protocol": "frost-dkg", "round": 2}


def test_broadcast_round_trip() -> None:
    env = seal(A, **HDR, kind="commit", payload=b"public commitment")
    assert env.recipient == BROADCAST and env.is_broadcast
    wire = env.to_json()
    json.loads(wire)  # plain JSON for WireMessage.body
    back = Envelope.from_json(wire)
    assert back == env
    assert open_envelope(back, B, A.public(), **HDR, kind="commit") == b"public commitment"
    assert open_envelope(back, C, A.public().ed25519_bytes, **HDR) == b"public commitment"


def test_p2p_round_trip_is_encrypted() -> None:
    secret = b"secret share for B " + os.urandom(16)
    env = seal(A, **HDR, kind="share", payload=secret, recipient="node-b", recipient_key=B.public())
    assert secret not in base64.b64decode(env.payload) and secret.hex() not in env.to_json()
    assert open_envelope(Envelope.from_json(env.to_json()), B, A.public(), **HDR) == secret
    with pytest.raises(EnvelopeError) as info:  # C reading B's mail
        open_envelope(env, C, A.public(), **HDR)
    assert info.value.reason == "wrong_recipient"
    # even with the recipient field rewritten, the signature fails first
    with pytest.raises(EnvelopeError, match="bad_signature"):
        open_envelope(dataclasses.replace(env, recipient="node-c"), C, A.public(), **HDR)


def test_seal_refuses_unsafe_calls() -> None:
    with pytest.raises(ValueError, match="needs the recipient"):
        seal(A, **HDR, kind="share", payload=b"x", recipient="node-b")
    with pytest.raises(ValueError, match="broadcast is not encrypted"):
        seal(A, **HDR, kind="commit", payload=b"x", recipient_key=B.public())
    with pytest.raises(ValueError, match="belongs to"):
        seal(A, **HDR, kind="share", payload=b"x", recipient="node-b", recipient_key=C.public())


def test_message_signed_by_a_claiming_b_is_rejected() -> None:
    env = seal(A, **HDR, kind="commit", payload=b"x")
    forged = dataclasses.replace(env, sender="node-b")
    with pytest.raises(EnvelopeError) as info:
        open_envelope(forged, C, B.public(), **HDR)
    assert info.value.reason == "bad_signature" and info.value.sender == "node-b"
    assert not info.value.attributable  # the relay may have done it: blame nobody's key
    with pytest.raises(EnvelopeError, match="unknown_sender"):
        open_envelope(forged, C, A.public(), **HDR)  # A's key offered for a message claiming B


def test_resigned_ciphertext_does_not_decrypt() -> None:
    """C copies A's encrypted share to B and signs it as its own: the AD names A, so it fails."""
    env = seal(A, **HDR, kind="share", payload=b"A's share for B", recipient="node-b", recipient_key=B.public())
    stolen = dataclasses.replace(env, sender="node-c", signature="")
    stolen = dataclasses.replace(stolen, signature=C.sign(stolen.signed_bytes()).hex())
    with pytest.raises(EnvelopeError) as info:
        open_envelope(stolen, B, C.public(), **HDR)
    assert info.value.reason == "decryption_failed" and info.value.sender == "node-c" and info.value.attributable


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("ssid", {"ssid": bytes.fromhex("22" * 32)}, "wrong_ssid"),
    ("round", {"round": 3}, "wrong_round"),
    ("protocol", {"protocol": "frost-sign"}, "wrong_protocol"),
])
def test_replay_into_another_session_or_round(field: str, value: dict, reason: str) -> None:
    env = seal(A, **HDR, kind="share", payload=b"s", recipient="node-b", recipient_key=B.public())
    with pytest.raises(EnvelopeError) as info:
        open_envelope(env, B, A.public(), **{**HDR, **value})
    assert info.value.reason == reason and info.value.sender == "node-a"
    # rewriting the header to match is caught by the signature
    changed = dataclasses.replace(env, ssid=value["ssid"].hex()) if field == "ssid" else \
        dataclasses.replace(env, **{field: value[field]})
    with pytest.raises(EnvelopeError, match="bad_signature"):
        open_envelope(changed, B, A.public(), **{**HDR, **value})


def test_wrong_kind_when_expected() -> None:
    env = seal(A, **HDR, kind="commit", payload=b"x")
    with pytest.raises(EnvelopeError, match="wrong_kind"):
        open_envelope(env, B, A.public(), **HDR, kind="share")


def test_tampered_ciphertext_rejected() -> None:
    env = seal(A, **HDR, kind="share", payload=b"s" * 40, recipient="node-b", recipient_key=B.public())
    body = bytearray(base64.b64decode(env.payload))
    body[-1] ^= 1
    tampered = dataclasses.replace(env, payload=base64.b64encode(bytes(body)).decode())
    with pytest.raises(EnvelopeError, match="bad_signature"):  # relay tampering: signature covers it
        open_envelope(tampered, B, A.public(), **HDR)
    resigned = dataclasses.replace(tampered, signature=A.sign(tampered.signed_bytes()).hex())
    with pytest.raises(EnvelopeError, match="decryption_failed"):  # a sender signing garbage
        open_envelope(resigned, B, A.public(), **HDR)


def test_equivocation_detected_and_repeat_ignored() -> None:
    guard = InboxGuard()
    one = seal(A, **HDR, kind="commit", payload=b"version 1")
    two = seal(A, **HDR, kind="commit", payload=b"version 2")
    assert guard.receive(one, B, A.public(), **HDR) == b"version 1"
    assert guard.receive(Envelope.from_json(one.to_json()), B, A.public(), **HDR) is None  # at-least-once
    with pytest.raises(EquivocationError) as info:
        guard.receive(two, B, A.public(), **HDR)
    err = info.value
    assert err.sender == "node-a" and err.reason == "equivocation" and err.attributable
    assert (err.first, err.second) == (one, two) and guard.evidence == [(one, two)]
    assert "node-a" in str(err)
    # other sender, round or kind are other slots
    assert guard.receive(seal(C, **HDR, kind="commit", payload=b"c"), B, C.public(), **HDR) == b"c"
    assert guard.receive(seal(A, **{**HDR, "round": 3}, kind="commit", payload=b"r3"), B, A.public(),
                         **{**HDR, "round": 3}) == b"r3"
    guard.close_session(SSID)
    with pytest.raises(EnvelopeError, match="closed_session"):
        guard.admit(one)


def test_relay_reencoding_is_not_equivocation() -> None:
    guard = InboxGuard()
    one = seal(A, **HDR, kind="commit", payload=b"v1")
    recased = dataclasses.replace(one, signature=one.signature.upper(), ssid=one.ssid.upper())
    assert guard.receive(one, B, A.public(), **HDR) == b"v1"
    assert guard.receive(recased, B, A.public(), **HDR) is None


def test_p2p_repeat_is_byte_identical_but_fresh_encryption_is_equivocation() -> None:
    """A retried sender activity must replay its stored output, not re-encrypt (DESIGN rule 2)."""
    guard = InboxGuard()
    one = seal(A, **HDR, kind="share", payload=b"same", recipient="node-b", recipient_key=B.public())
    again = seal(A, **HDR, kind="share", payload=b"same", recipient="node-b", recipient_key=B.public())
    assert guard.receive(one, B, A.public(), **HDR) == b"same"
    assert guard.receive(one, B, A.public(), **HDR) is None
    with pytest.raises(EquivocationError):
        guard.receive(again, B, A.public(), **HDR)


def test_echo_digest_detects_split_views() -> None:
    a1, c1 = seal(A, **HDR, kind="commit", payload=b"a"), seal(C, **HDR, kind="commit", payload=b"c")
    a2 = seal(A, **HDR, kind="commit", payload=b"a'")
    assert echo_digest([a1, c1]) == echo_digest([c1, a1])
    assert echo_digest([a1, c1]) != echo_digest([a2, c1])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["ssid", "protocol", "round", "kind", "sender", "recipient", "payload",
                                        "signature", "version"]),
                       st.one_of(st.text(max_size=40), st.integers(), st.booleans(), st.none(), st.binary(max_size=8))))
def test_malformed_envelopes_fail_cleanly(data: dict) -> None:
    try:
        env = Envelope.from_dict(data)
        open_envelope(env, B, A.public(), **HDR)
    except EnvelopeError:
        return
    raise AssertionError("a malformed envelope was accepted")
