"""Fuzz every FROST message a peer can send: DKG / refresh / reshare rounds and the signing path.

Round messages come from a real run of the protocol (recorded once per module); one message a party
receives is mutated (bit flips, truncation, off-curve points, scalars >= q, identity and small-order
points, wrong lengths) and that party's round is run again. Property (`support.round_property`): the
round succeeds or raises `ProtocolError` naming exactly the sender. The signing path's decoders
(`SigningCommitments.from_bytes`, `SignatureShare.from_bytes`) raise only `EncodingError`, and what
they accept goes through `sign` / `aggregate` with culprits the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError

from activities.coordinator import CoordinatorActivities
from activities.frost_aggregate import _commitment
from activities.frost_signing import COMMIT_PROTOCOL, FrostSigning, commitment_ssid
from activities.node_services import Roster
from mpc.envelope import seal
from mpc.identity import NodeIdentity
from tests.fuzz.support import (
    apply,
    byte_mutation,
    case_id,
    fuzz,
    json_mutation,
    mutate_inbound,
    regressions,
    round_property,
)
from tss.errors import EncodingError, ProtocolError
from tss.frost import (
    FrostDkg,
    FrostRefresh,
    FrostReshare,
    KeyShare,
    SignatureShare,
    SigningCommitments,
    aggregate,
    commit,
    get_ciphersuite,
    sign,
    trusted_dealer_keygen,
)
from tss.messages import BROADCAST, RoundMessage
from workflows.types import FrostSignRequest, Party, StoreCommitmentsInput, WireMessage

MESSAGE = bytes(range(32))
IDS = {n: NodeIdentity.generate(n) for n in ("p1", "p2")}
PARTIES = [Party(n, i, IDS[n].public().ed25519, IDS[n].public().x25519) for i, n in enumerate(IDS, start=1)]


def _record(proto: Any, states: dict[int, bytes]) -> dict[int, tuple[dict[int, bytes], dict[int, list[RoundMessage]]]]:
    """{round: (state of each party before it, inbox of each party)} of one honest run."""
    parties = sorted(states)
    inbox: dict[int, list[RoundMessage]] = {p: [] for p in parties}
    trace = {}
    for r in range(1, proto.total_rounds + 1):
        trace[r] = (dict(states), {p: list(inbox[p]) for p in parties})
        outputs = {p: proto.run_round(r, states[p], inbox[p]) for p in parties}
        inbox = {p: [] for p in parties}
        for p in parties:
            states[p] = outputs[p].state
            for msg in outputs[p].outbound:
                for q in ([q for q in parties if q != p] if msg.recipient == BROADCAST else [msg.recipient]):
                    inbox[q].append(msg)
    return trace


def _dkg(suite: str) -> tuple[Any, dict]:
    ids = [1, 2, 3]
    states = {i: FrostDkg.initial_state(suite=suite, ssid=b"fuzz-dkg", identifier=i, participants=ids, threshold=2)
              for i in ids}
    return FrostDkg(), states


def _refresh(suite: str) -> tuple[Any, dict]:
    shares, _ = trusted_dealer_keygen(get_ciphersuite(suite), 2, [1, 2, 3])
    return FrostRefresh(), {i: FrostRefresh.initial_state(ssid=b"fuzz-refresh", key_share=s) for i, s in shares.items()}


def _reshare(suite: str) -> tuple[Any, dict]:
    shares, public = trusted_dealer_keygen(get_ciphersuite(suite), 2, [1, 2, 3])
    dealers, new = [1, 3], [1, 2, 4]
    states = {
        p: FrostReshare.initial_state(ssid=b"fuzz-reshare", identifier=p, old_public=public, dealers=dealers,
                                      new_participants=new, new_threshold=2,
                                      key_share=shares[p] if p in dealers else None)
        for p in sorted(set(dealers) | set(new))
    }
    return FrostReshare(), states


SESSIONS = {
    "dkg-ed25519": lambda: _dkg("ed25519"),
    "dkg-secp256k1": lambda: _dkg("secp256k1"),
    "refresh-secp256k1-tr": lambda: _refresh("secp256k1-tr"),
    "reshare-ed25519": lambda: _reshare("ed25519"),
    "reshare-secp256k1": lambda: _reshare("secp256k1"),
}


@functools.cache
def session(name: str) -> tuple[Any, dict]:
    proto, states = SESSIONS[name]()
    return proto, _record(proto, states)


def _slots(name: str) -> list[tuple[int, int, int]]:
    """Every (round, receiver, inbox index) of the recorded run."""
    _, trace = session(name)
    return [(r, p, i) for r, (_, inboxes) in trace.items() for p, msgs in inboxes.items() for i in range(len(msgs))]


def _run_mutated(name: str, rnd: int, receiver: int, index: int, mutation: dict[str, Any]) -> str:
    proto, trace = session(name)
    states, inboxes = trace[rnd]
    inbound = inboxes[receiver]
    sender = inbound[index].sender
    mutated = mutate_inbound(inbound, index, mutation)
    return round_property(lambda: proto.run_round(rnd, states[receiver], mutated), sender)


@pytest.mark.parametrize("name", SESSIONS)
def test_honest_run_recorded(name: str) -> None:
    proto, trace = session(name)
    states, inboxes = trace[proto.total_rounds]
    for p, state in states.items():
        assert proto.run_round(proto.total_rounds, state, inboxes[p]).public_result


@fuzz(60)
@given(st.sampled_from(sorted(SESSIONS)), st.data())
def test_mutated_vss_message(name: str, data: st.DataObject) -> None:
    rnd, receiver, index = data.draw(st.sampled_from(_slots(name)), label="slot")
    payload = session(name)[1][rnd][1][receiver][index].payload
    _run_mutated(name, rnd, receiver, index, byte_mutation(data, payload))


@pytest.mark.parametrize("case", regressions("frost-vss"), ids=case_id)
def test_vss_regressions(case: dict[str, Any]) -> None:
    outcome = _run_mutated(case["session"], case["round"], case["receiver"], case["index"], case["mutation"])
    assert outcome == case["expect"]


# ---- signing: commitments (round 1) and signature shares (round 2) --------------------------------
@functools.cache
def _key(suite_name: str) -> tuple[Any, dict[int, KeyShare], Any]:
    suite = get_ciphersuite(suite_name)
    return suite, *trusted_dealer_keygen(suite, 2, [1, 2, 3])


def _fresh_signing(suite_name: str) -> tuple[Any, dict, Any, dict, list[SigningCommitments]]:
    """Signers 1 and 3 with fresh nonces (a nonce signs once)."""
    suite, shares, public = _key(suite_name)
    pairs = {i: commit(suite, shares[i]) for i in (1, 3)}
    return suite, shares, public, pairs, [pairs[i][1] for i in (1, 3)]


SUITES = ["ed25519", "secp256k1", "secp256k1-tr"]


@fuzz(80)
@given(st.sampled_from(SUITES), st.data())
def test_mutated_commitment_then_sign(suite_name: str, data: st.DataObject) -> None:
    """Signer 1 receives signer 3's commitment mutated: decoding raises EncodingError, or `sign`
    succeeds or raises ProtocolError naming 3 (an identity point, an unknown or reordered identifier)."""
    suite, shares, _public, pairs, comms = _fresh_signing(suite_name)
    raw = comms[1].to_bytes(suite)
    mutation = byte_mutation(data, raw)
    try:
        theirs = SigningCommitments.from_bytes(suite, apply(raw, mutation))
    except EncodingError:
        return
    listed = sorted([comms[0], theirs], key=lambda c: c.identifier)
    try:
        sign(suite, shares[1], pairs[1][0], MESSAGE, listed)
    except ProtocolError as exc:
        assert set(exc.culprits) <= {3, theirs.identifier}, exc


@fuzz(80)
@given(st.sampled_from(SUITES), st.data())
def test_mutated_signature_share_then_aggregate(suite_name: str, data: st.DataObject) -> None:
    suite, shares, public, pairs, comms = _fresh_signing(suite_name)
    sig_shares = [sign(suite, shares[i], pairs[i][0], MESSAGE, comms) for i in (1, 3)]
    raw = sig_shares[1].to_bytes(suite)
    try:
        theirs = SignatureShare.from_bytes(suite, apply(raw, byte_mutation(data, raw)))
    except EncodingError:
        return
    try:
        aggregate(suite, public, MESSAGE, comms, [sig_shares[0], theirs])
    except ProtocolError as exc:
        assert exc.culprits and set(exc.culprits) <= {3, theirs.identifier}, exc


@fuzz(60)
@given(st.sampled_from(SUITES), st.binary(max_size=200))
def test_signing_decoders_on_random_bytes(suite_name: str, raw: bytes) -> None:
    suite = get_ciphersuite(suite_name)
    for decode in (SigningCommitments.from_bytes, SignatureShare.from_bytes):
        with contextlib.suppress(EncodingError):
            decode(suite, raw)


# ---- signed commitment envelopes: the pool (coordinator), the signer and the aggregator -----------
class _FakeDb:
    """Enough of an AsyncSession for `store_commitments` to get past its parsing."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    async def __aenter__(self) -> _FakeDb:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    def add(self, row: Any) -> None:
        self.rows.append(row)

    async def commit(self) -> None:
        return None

    async def rollback(self) -> None:
        return None


def _commitment_body(suite_name: str) -> tuple[Any, bytes]:
    suite, _shares, _, _pairs, comms = _fresh_signing(suite_name)
    body = json.dumps({"key_id": "k", "epoch": 0, "nonce_id": "ab" * 16, "identifier": 2,
                       "commitment": comms[1].to_bytes(suite).hex()}, sort_keys=True).encode()
    return suite, body


def _violation_names(exc: ApplicationError, sender: str) -> None:
    assert exc.non_retryable, exc
    if exc.type == "ProtocolViolation":
        assert exc.details[0]["culprits"] == [sender], exc.details


@fuzz(80)
@given(st.sampled_from(SUITES), st.data())
def test_mutated_commitment_envelope(suite_name: str, data: st.DataObject) -> None:
    """A signed commitment body mutated (then signed, so only its content is wrong) through every
    decoder it meets: the coordinator's pool, the aggregator and a signer. Each accepts it or refuses
    with a non-retryable ApplicationError; a ProtocolViolation names the signer."""
    suite, body = _commitment_body(suite_name)
    payload = apply(body, json_mutation(data, body))
    envelope = seal(IDS["p2"], ssid=commitment_ssid("k"), protocol=COMMIT_PROTOCOL, round=1, kind="commitment",
                    payload=payload)
    wire = WireMessage(sender="p2", recipient="*", round=1, body=envelope.to_json())
    coordinator = CoordinatorActivities(sessions=_FakeDb)  # type: ignore[arg-type]
    try:
        asyncio.run(coordinator.store_commitments(StoreCommitmentsInput(key_id="k", node_id="p2", commitments=[wire])))
    except ApplicationError as exc:
        _violation_names(exc, "p2")
    try:
        _commitment(suite, wire, payload)
    except ApplicationError as exc:
        _violation_names(exc, "p2")
    request = FrostSignRequest(session_id="s", key_id="k", digest="00" * 32, signers=PARTIES[:2], commitments=[wire])
    signing = FrostSigning(SimpleNamespace(identity=IDS["p1"], node_id="p1"))  # type: ignore[arg-type]
    try:
        signing._open_commitments(request.key_id, request.commitments, Roster(PARTIES[:2], "p1"), suite, 0)
    except ApplicationError as exc:
        _violation_names(exc, "p2")


@pytest.mark.parametrize("case", regressions("commitment-envelope"), ids=case_id)
def test_commitment_envelope_regressions(case: dict[str, Any]) -> None:
    _, body = _commitment_body("ed25519")
    envelope = seal(IDS["p2"], ssid=commitment_ssid("k"), protocol=COMMIT_PROTOCOL, round=1, kind="commitment",
                    payload=apply(body, case["mutation"]))
    wire = WireMessage(sender="p2", recipient="*", round=1, body=envelope.to_json())
    coordinator = CoordinatorActivities(sessions=_FakeDb)  # type: ignore[arg-type]
    with pytest.raises(ApplicationError) as caught:
        asyncio.run(coordinator.store_commitments(StoreCommitmentsInput(key_id="k", node_id="p2", commitments=[wire])))
    assert caught.value.details[0]["code"] == case["expect"]
    _violation_names(caught.value, "p2")
