"""Fuzz the envelope layer: every relayed message is parsed and opened here before `tss` sees a byte.

Valid envelopes (a broadcast and an encrypted point-to-point message, sealed by a real identity) are
mutated as JSON text and as dicts; `Envelope.from_json` / `from_dict`, `open_envelope`, `InboxGuard`
and the participant's `open_inbound` must refuse with `EnvelopeError` (or the activity's
ProtocolViolation naming the claimed sender), never another exception (SECURITY.md A5, S2, S3).
Intents (`Intent.parse`) ride in the same relayed inputs and are fuzzed here too.
"""

from __future__ import annotations

import contextlib
import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError

from activities.node_services import Roster, open_inbound
from mpc.envelope import Envelope, EnvelopeError, InboxGuard, json_object, open_envelope, seal
from mpc.identity import NodeIdentity
from mpc.intents import Intent, IntentRefused
from tests.fuzz.support import NASTY_JSON, apply, case_id, fuzz, json_mutation, regressions
from workflows.driver import PROTOCOL_VIOLATION
from workflows.types import Party, WireMessage

SSID = bytes.fromhex("5a" * 32)
PROTOCOL = "gg20/keygen"
IDS = {n: NodeIdentity.generate(n) for n in ("n1", "n2", "n3")}
PARTIES = [Party(n, i, IDS[n].public().ed25519, IDS[n].public().x25519) for i, n in enumerate(IDS, start=1)]
BROADCAST_ENV = seal(IDS["n2"], ssid=SSID, protocol=PROTOCOL, round=1, kind="keygen/r1", payload=b'{"a":"00"}')
P2P_ENV = seal(IDS["n2"], ssid=SSID, protocol=PROTOCOL, round=1, kind="keygen/r2/share", payload=b"secret",
               recipient="n1", recipient_key=IDS["n1"].public())
SEEDS = {"broadcast": BROADCAST_ENV, "p2p": P2P_ENV}


def _open(text: bytes | str) -> bytes:
    """What a receiving node does with relayed text: parse, verify, check the header, decrypt."""
    envelope = Envelope.from_json(text)
    return open_envelope(envelope, IDS["n1"], IDS["n2"].public() if envelope.sender == "n2" else b"\x00" * 32,
                         ssid=SSID, protocol=PROTOCOL, round=1)


def _only_envelope_errors(fn: Any, *args: Any) -> str:
    try:
        fn(*args)
    except EnvelopeError as exc:
        assert isinstance(exc.sender, str) and len(exc.sender) <= 128
        return exc.reason
    return "ok"


@pytest.mark.parametrize("seed", SEEDS)
def test_honest_envelopes_open(seed: str) -> None:
    assert _open(SEEDS[seed].to_json()) in (b'{"a":"00"}', b"secret")


@fuzz(150)
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_mutated_envelope_text(seed: str, data: st.DataObject) -> None:
    text = SEEDS[seed].to_json().encode()
    mutation = json_mutation(data, text)
    _only_envelope_errors(_open, apply(text, mutation))


@fuzz(100)
@given(st.dictionaries(st.sampled_from(["ssid", "protocol", "round", "kind", "sender", "recipient", "payload",
                                        "signature", "version", "extra"]),
                       st.sampled_from(NASTY_JSON) | st.text(max_size=20) | st.integers(), max_size=10),
       st.sampled_from(sorted(SEEDS)))
def test_envelope_from_dict_over_a_valid_one(changes: dict[str, Any], seed: str) -> None:
    """Any field of a valid envelope replaced by anything (the Temporal JSON converter hands dicts over)."""
    def run() -> None:
        envelope = Envelope.from_dict({**SEEDS[seed].to_dict(), **changes})
        open_envelope(envelope, IDS["n1"], IDS["n2"].public(), ssid=SSID, protocol=PROTOCOL, round=1)
        envelope.canonical_bytes()

    _only_envelope_errors(run)


@fuzz(40)
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_inbox_guard_repeat_or_equivocation(seed: str, data: st.DataObject) -> None:
    """After an honest message, a mutated one for the same slot is a repeat, equivocation or refused."""
    text = SEEDS[seed].to_json().encode()
    guard = InboxGuard()
    assert guard.receive(SEEDS[seed], IDS["n1"], IDS["n2"].public(), ssid=SSID, protocol=PROTOCOL, round=1)

    def again() -> None:
        envelope = Envelope.from_json(apply(text, json_mutation(data, text)))
        guard.receive(envelope, IDS["n1"], IDS["n2"].public(), ssid=SSID, protocol=PROTOCOL, round=1)

    _only_envelope_errors(again)


@fuzz(60)
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_open_inbound_names_the_claimed_sender(seed: str, data: st.DataObject) -> None:
    """The participant's inbox: a mutated envelope is a ProtocolViolation naming the relayed sender (or,
    for a bad signature the relay could have caused, nobody), never an unhandled error."""
    text = SEEDS[seed].to_json().encode()
    body = apply(text, json_mutation(data, text)).decode("utf-8", "surrogateescape")
    wire = WireMessage(sender="n2", recipient="*" if seed == "broadcast" else "n1", round=1, body=body)
    services = SimpleNamespace(identity=IDS["n1"])
    try:
        open_inbound(services, Roster(PARTIES, "n1"), ssid=SSID, protocol=PROTOCOL, round_no=1,  # type: ignore[arg-type]
                     messages=[wire])
    except ApplicationError as exc:
        assert exc.type == PROTOCOL_VIOLATION and exc.non_retryable
        details = exc.details[0]
        assert details["culprits"] in (["n2"], []), details
        if details["culprits"] == []:
            assert details["code"] in ("bad_signature", "sender_mismatch", "wrong_ssid", "wrong_protocol",
                                       "wrong_round", "wrong_kind", "wrong_recipient"), details


@fuzz(100)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_json_object_any_input(text: bytes | str) -> None:
    _only_envelope_errors(lambda: json_object(text, max_bytes=200, max_depth=2))


_INTENT = Intent("ab" * 16, "sign", "key-1", 0, 2_000_000_000, {"digest": "00" * 32, "signers": ["n1", "n2"]})


@fuzz(100)
@given(st.data())
def test_intent_parse(data: st.DataObject) -> None:
    raw = _INTENT.to_bytes()
    tag = raw[: raw.index(b"{")]
    mutated = tag + apply(raw[len(tag) :], json_mutation(data, raw[len(tag) :]))
    with contextlib.suppress(IntentRefused):
        Intent.parse(mutated)


@pytest.mark.parametrize("case", regressions("envelope"), ids=case_id)
def test_envelope_regressions(case: dict[str, Any]) -> None:
    text = SEEDS[case["seed"]].to_json().encode()
    assert _only_envelope_errors(_open, apply(text, case["mutation"])) == case["expect"]


@pytest.mark.parametrize("case", regressions("envelope-dict"), ids=case_id)
def test_envelope_dict_regressions(case: dict[str, Any]) -> None:
    def run() -> None:
        envelope = Envelope.from_dict({**SEEDS[case["seed"]].to_dict(), **case["mutation"]["fields"]})
        open_envelope(envelope, IDS["n1"], IDS["n2"].public(), ssid=SSID, protocol=PROTOCOL, round=1)

    assert _only_envelope_errors(run) == case["expect"]


def test_sender_beyond_int_str_limit_is_malformed() -> None:
    """Found by tests/fuzz: `str()` of a 5,000-digit int (the claimed sender) raised ValueError."""
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_dict({**BROADCAST_ENV.to_dict(), "sender": 10**5000})
    assert caught.value.reason == "malformed" and caught.value.sender == "?"
    with pytest.raises(EnvelopeError):
        Envelope.from_dict([1, 2])  # type: ignore[arg-type]


def test_seed_envelopes_are_json() -> None:
    for env in SEEDS.values():
        assert json.loads(env.to_json())["sender"] == "n2"
