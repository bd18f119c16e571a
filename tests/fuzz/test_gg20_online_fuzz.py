"""Fuzz the coordinator's decoder of a GG20 online answer (a pooled presignature's signed s_i).

An honest answer's payload is mutated as JSON or bytes and signed again by its sender, so only its content
is wrong: `online_share` returns an integer or refuses with a non-retryable `ProtocolViolation` naming exactly
that sender. The wire body itself mutated (the relay's doing, say) is refused naming the sender or nobody.
Whatever integer it returns is `combine_public`'s to check, which names the sender of a wrong one.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError

from activities.gg20_online import ONLINE_PROTOCOL, online_ssid
from activities.presign_pool import online_share
from mpc.envelope import seal
from mpc.identity import NodeIdentity
from tests.fuzz.support import apply, byte_mutation, fuzz, json_mutation
from workflows.types import Party, WireMessage

IDENTITY = NodeIdentity.generate("p2")
PARTY = Party("p2", 2, IDENTITY.public().ed25519, IDENTITY.public().x25519)
PRESIG, DIGEST = "ab" * 32, "cd" * 32
SSID = online_ssid("session", "key", DIGEST, PRESIG)
HONEST = json.dumps({"presig_id": PRESIG, "digest": DIGEST, "party_id": 2, "s": "0f" * 32}, sort_keys=True).encode()


def _wire(payload: bytes) -> WireMessage:
    envelope = seal(IDENTITY, ssid=SSID, protocol=ONLINE_PROTOCOL, round=1, kind="share", payload=payload)
    return WireMessage(sender="p2", recipient="*", round=1, body=envelope.to_json())


def _decode(wire: WireMessage) -> int:
    return online_share(wire, PARTY, ssid=SSID, presig_id=PRESIG, digest=DIGEST)


def test_the_honest_answer_decodes() -> None:
    assert _decode(_wire(HONEST)) == int("0f" * 32, 16)


@fuzz(150)
@given(st.data())
def test_mutated_signed_payload_names_its_sender(data: st.DataObject) -> None:
    payload = apply(HONEST, json_mutation(data, HONEST))
    try:
        value = _decode(_wire(payload))
    except ApplicationError as exc:
        assert exc.type == "ProtocolViolation" and exc.non_retryable, exc
        assert exc.details[0]["culprits"] == ["p2"], exc.details
    else:
        assert isinstance(value, int) and 0 <= value < 2**256


@fuzz(100)
@given(st.data())
def test_mutated_wire_is_refused_naming_the_sender_or_nobody(data: st.DataObject) -> None:
    body = _wire(HONEST).body.encode()
    mutated = apply(body, byte_mutation(data, body))
    try:
        text = mutated.decode()
    except UnicodeDecodeError:
        text = mutated.decode("latin-1")
    try:
        _decode(WireMessage(sender="p2", recipient="*", round=1, body=text))
    except ApplicationError as exc:
        assert exc.type == "ProtocolViolation" and exc.non_retryable, exc
        assert exc.details[0]["culprits"] in (["p2"], []), exc.details
