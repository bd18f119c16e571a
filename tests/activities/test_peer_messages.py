"""A peer's message that does not parse or check is a non-retryable ProtocolViolation naming that peer,
never an InvalidRequest or an unhandled exception (SECURITY.md A5; tests table row 21)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError

from activities.coordinator import CoordinatorActivities
from activities.frost_aggregate import _commitment, verified_payload
from activities.node_services import Roster, from_wire, open_inbound
from activities.session_id import CONTRIBUTION_BYTES, session_id_hash
from mpc.envelope import Envelope, EnvelopeError, json_object, seal
from mpc.identity import NodeIdentity
from tss.frost import get_ciphersuite
from workflows.driver import PROTOCOL_VIOLATION, failure_from
from workflows.types import Party, StoreCommitmentsInput, WireMessage

SSID = bytes.fromhex("22" * 32)
IDS = {n: NodeIdentity.generate(n) for n in ("p1", "p2", "p3")}
PARTIES = [Party(n, i, IDS[n].public().ed25519, IDS[n].public().x25519) for i, n in enumerate(IDS, start=1)]
DEEP = "[" * 100_000 + "]" * 100_000


def _violation_of(error: ApplicationError, sender: str) -> None:
    assert error.type == PROTOCOL_VIOLATION and error.non_retryable
    failure = failure_from("p1", error)
    assert failure.node == sender and failure.nodes == [sender]


def _wire(body: Any, sender: str = "p2") -> WireMessage:
    return WireMessage(sender=sender, recipient="*", round=1, body=body)


def _signed(**changes: Any) -> str:
    env = seal(IDS["p2"], ssid=SSID, protocol="frost-dkg", round=1, kind="commit", payload=b"x")
    return json.dumps({**env.to_dict(), **changes})


GARBAGE = {
    "not-json": "garbage{",
    "empty": "",
    "a-list": "[1, 2]",
    "a-number": "17",
    "deep-nesting": DEEP,
    "deep-object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "nested-field": json.dumps({**json.loads(_signed()), "payload": [[["x"]]]}),
    "missing-fields": json.dumps({"sender": "p2"}),
    "round-as-string": _signed(round="1"),
    "not-text": 12345,
    "bad-utf8": b"\xff\xfe{}",
}


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_from_wire_names_the_sender(body: Any) -> None:
    with pytest.raises(ApplicationError) as caught:
        from_wire(_wire(body))
    _violation_of(caught.value, "p2")


def test_brackets_inside_strings_are_not_nesting() -> None:
    env = seal(IDS["p2"], ssid=SSID, protocol="frost-dkg" + "[{" * 20, round=1, kind="commit", payload=b"x")
    assert from_wire(_wire(env.to_json())) == env


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_violation_or_an_envelope(text: str) -> None:
    try:
        from_wire(_wire(text))
    except ApplicationError as error:
        _violation_of(error, "p2")


def test_json_object_refuses_depth_before_parsing() -> None:
    with pytest.raises(EnvelopeError, match="malformed"):
        json_object(DEEP, max_bytes=1 << 20)
    with pytest.raises(EnvelopeError):
        json_object('{"a": {"b": 1}}', max_bytes=100)
    assert json_object('{"a": {"b": 1}}', max_bytes=100, max_depth=2) == {"a": {"b": 1}}
    with pytest.raises(EnvelopeError):
        json_object("{}" + " " * 100, max_bytes=50)


@pytest.mark.parametrize("change", [{"ssid": "zz"}, {"ssid": ""}, {"kind": ""}, {"payload": "!!"},
                                    {"version": 9}, {"signature": "xyz"}],
                         ids=["ssid-not-hex", "ssid-empty", "kind-empty", "payload-not-base64", "version",
                              "signature-not-hex"])
def test_open_inbound_names_the_sender_of_a_malformed_envelope(change: dict[str, Any]) -> None:
    services = SimpleNamespace(identity=IDS["p1"])
    roster = Roster(PARTIES, "p1")
    with pytest.raises(ApplicationError) as caught:
        open_inbound(services, roster, ssid=SSID, protocol="frost-dkg", round_no=1,  # type: ignore[arg-type]
                     messages=[_wire(_signed(**change))])
    _violation_of(caught.value, "p2")


def test_a_hello_with_a_17_byte_contribution_names_its_sender() -> None:
    contributions = {p.node_id: bytes(CONTRIBUTION_BYTES) for p in PARTIES} | {"p3": bytes(17)}
    with pytest.raises(ApplicationError) as caught:
        session_id_hash(protocol="frost-dkg", curve="ed25519", key_id="k", epoch=0, parties=PARTIES, threshold=2,
                        workflow_id="w", contributions=contributions)
    _violation_of(caught.value, "p3")


# ---- the coordinator: never an unhandled error (which its retry policy would repeat) ----------


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_aggregator_names_the_sender_of_a_garbled_envelope(body: Any) -> None:
    with pytest.raises(ApplicationError) as caught:
        verified_payload(_wire(body), PARTIES[1], ssid=SSID, protocol="frost-commit", round_no=1, kind="commitment")
    _violation_of(caught.value, "p2")


@pytest.mark.parametrize("payload", [b"garbage", b"[]", DEEP.encode(), b'{"commitment": "zz"}',
                                     b'{"commitment": "00"}', b'{"commitment": 5}', b"{}"])
def test_aggregator_names_the_signer_of_a_bad_commitment(payload: bytes) -> None:
    with pytest.raises(ApplicationError) as caught:
        _commitment(get_ciphersuite("ed25519"), _wire("{}"), payload)
    _violation_of(caught.value, "p2")


@pytest.mark.parametrize("body", [*GARBAGE.values(), seal(IDS["p2"], ssid=SSID, protocol="frost-commit", round=1,
                                                          kind="commitment", payload=DEEP.encode()).to_json()],
                         ids=[*GARBAGE.keys(), "deep-payload"])
def test_store_commitments_refuses_garbage_without_retrying(body: Any) -> None:
    activities = CoordinatorActivities(sessions=None)  # type: ignore[arg-type]  # refused before any database use
    request = StoreCommitmentsInput(key_id="k", node_id="p2", commitments=[_wire(body)])
    with pytest.raises(ApplicationError) as caught:
        asyncio.run(activities.store_commitments(request))
    _violation_of(caught.value, "p2")


def test_envelope_from_json_round_trips() -> None:
    env = seal(IDS["p2"], ssid=SSID, protocol="frost-dkg", round=1, kind="commit", payload=b"x")
    assert Envelope.from_json(env.to_json()) == env


# ---- a signer opening its peers' commitments (before any nonce is touched) -----------------------


@pytest.mark.parametrize("payload", [DEEP.encode(), b"garbage", b"[]", b'{"commitment": "00"}',
                                     b'{"commitment": "zz", "nonce_id": "n"}', b"{}"],
                         ids=["deep", "garbage", "list", "no-nonce-id", "bad-point", "empty"])
def test_signer_names_the_sender_of_a_bad_commitment(payload: bytes) -> None:
    from activities.frost_signing import COMMIT_PROTOCOL, FrostSigning, commitment_ssid
    from workflows.types import FrostSignRequest

    envelope = seal(IDS["p2"], ssid=commitment_ssid("k"), protocol=COMMIT_PROTOCOL, round=1, kind="commitment",
                    payload=payload)
    request = FrostSignRequest(session_id="s", key_id="k", digest="00" * 32, signers=PARTIES[:2],
                               commitments=[_wire(envelope.to_json())])
    signing = FrostSigning(SimpleNamespace(identity=IDS["p1"], node_id="p1"))  # type: ignore[arg-type]
    with pytest.raises(ApplicationError) as caught:
        signing._open_commitments(request.key_id, request.commitments, Roster(PARTIES[:2], "p1"),
                                  get_ciphersuite("ed25519"), 0)
    _violation_of(caught.value, "p2")
