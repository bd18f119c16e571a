"""The participant's intent gate (activities/authorisation.py) without a stack: verdicts and records."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.exceptions import ApplicationError

from activities.authorisation import IntentGate, Pinned
from mpc.intent_keys import LocalIntentSigner, TrustedIntentKeys
from mpc.intents import Intent, KeyPolicy
from mpc.keystore import LocalKeyWrapper, SecretStateStore
from workflows.types import IntentApproval, Party, SessionIntent, roster_of

KEY_ID = "key-1"


@pytest.fixture
def signer(tmp_path: Path) -> LocalIntentSigner:
    return LocalIntentSigner(tmp_path / "api-intent.pem")


@pytest.fixture
def gate(tmp_path: Path, signer: LocalIntentSigner) -> IntentGate:
    state = SecretStateStore(tmp_path / "state", LocalKeyWrapper(os.urandom(32)), "node-1")
    return IntentGate(TrustedIntentKeys(signer.public_keys), state)


def signed(signer: LocalIntentSigner, **changes: object) -> SessionIntent:
    fields: dict = {"intent_id": os.urandom(16).hex(), "operation": "sign", "key_id": KEY_ID, "epoch": 0,
                    "not_after": int(time.time()) + 60, "details": {"digest": "ab" * 32, "signers": ["n1", "n2"]}}
    raw = Intent(**{**fields, **changes}).to_bytes()
    return SessionIntent(raw.hex(), signer.sign(raw))


def code_of(excinfo: pytest.ExceptionInfo[ApplicationError]) -> str:
    assert excinfo.value.type == "InvalidRequest" and excinfo.value.non_retryable
    details = excinfo.value.details[0]
    assert details["culprits"] == []  # a refusal never names a node (A5)
    return str(details["code"])


def test_a_valid_intent_passes_and_binds_to_one_workflow(gate: IntentGate, signer: LocalIntentSigner) -> None:
    wire = signed(signer)
    intent = gate.verify(wire, operation="sign", key_id=KEY_ID, epoch=0, policy=KeyPolicy())
    gate.expect(intent, digest="ab" * 32)
    gate.record(intent, workflow_id="wf-1", slot="n1,n2", session_id="s-1")
    gate.record(intent, workflow_id="wf-1", slot="n1,n2", session_id="s-1")  # a retry passes
    gate.record(intent, workflow_id="wf-1", slot="n1,n3", session_id="s-2")  # a replaced signer: a new slot
    with pytest.raises(ApplicationError) as other_workflow:
        gate.record(intent, workflow_id="wf-2", slot="n1,n2", session_id="s-1")
    assert code_of(other_workflow) == "intent_reused"
    with pytest.raises(ApplicationError) as same_signers_again:
        gate.record(intent, workflow_id="wf-1", slot="n1,n2", session_id="s-3")
    assert code_of(same_signers_again) == "intent_reused"
    assert gate.was_used(intent.intent_id)


def test_the_record_survives_a_restart(tmp_path: Path, signer: LocalIntentSigner) -> None:
    wrapper = LocalKeyWrapper(os.urandom(32))
    first = IntentGate(TrustedIntentKeys(signer.public_keys), SecretStateStore(tmp_path / "s", wrapper, "node-1"))
    intent = first.verify(signed(signer), operation="sign", key_id=KEY_ID, epoch=0, policy=KeyPolicy())
    first.record(intent, workflow_id="wf-1", slot="x", session_id="s-1")
    restarted = IntentGate(TrustedIntentKeys(signer.public_keys), SecretStateStore(tmp_path / "s", wrapper, "node-1"))
    with pytest.raises(ApplicationError) as reused:
        restarted.record(intent, workflow_id="wf-2", slot="x", session_id="s-1")
    assert code_of(reused) == "intent_reused"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"operation": "export"}, "intent_mismatch"),
    ({"key_id": "key-2"}, "intent_mismatch"),
    ({"epoch": 1}, "intent_mismatch"),
    ({"not_after": 1}, "intent_expired"),
])
def test_refusals(gate: IntentGate, signer: LocalIntentSigner, changes: dict, expected: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        gate.verify(signed(signer, **changes), operation="sign", key_id=KEY_ID, epoch=0, policy=KeyPolicy())
    assert code_of(refused) == expected


def test_no_intent_or_an_untrusted_signer_is_unauthorized(gate: IntentGate, tmp_path: Path) -> None:
    for wire in (None, signed(LocalIntentSigner(tmp_path / "attacker.pem"))):
        with pytest.raises(ApplicationError) as refused:
            gate.verify(wire, operation="sign", key_id=KEY_ID, epoch=0, policy=KeyPolicy())
        assert code_of(refused) == "unauthorized"


def test_a_node_that_trusts_no_key_refuses(tmp_path: Path, signer: LocalIntentSigner) -> None:
    gate = IntentGate(TrustedIntentKeys([]), SecretStateStore(tmp_path / "s", LocalKeyWrapper(os.urandom(32)), "n"))
    with pytest.raises(ApplicationError) as refused:
        gate.verify(signed(signer), operation="sign", key_id=KEY_ID, epoch=0, policy=KeyPolicy())
    assert code_of(refused) == "unauthorized"


def test_the_quorum_counts_distinct_listed_approvers(gate: IntentGate, signer: LocalIntentSigner) -> None:
    approvers = [Ed25519PrivateKey.generate() for _ in range(3)]
    hexes = [a.public_key().public_bytes_raw().hex() for a in approvers]
    policy = KeyPolicy.from_dict({"approvers": [{"name": f"a{i}", "public_key": k} for i, k in enumerate(hexes)],
                                  "quorum": {"sign": 2}})
    wire = signed(signer)
    raw = bytes.fromhex(wire.intent)
    one = IntentApproval(hexes[0], approvers[0].sign(raw).hex())
    for approvals in ([], [one], [one, one]):
        with pytest.raises(ApplicationError) as refused:
            gate.verify(SessionIntent(wire.intent, wire.api_signature, approvals), operation="sign", key_id=KEY_ID,
                        epoch=0, policy=policy)
        assert code_of(refused) == "unauthorized"
    two = [one, IntentApproval(hexes[2], approvers[2].sign(raw).hex())]
    gate.verify(SessionIntent(wire.intent, wire.api_signature, two), operation="sign", key_id=KEY_ID, epoch=0,
                policy=policy)


def test_pinned_roster_refuses_a_swapped_identity_key() -> None:
    parties = [Party(f"n{i}", i, f"{i:064x}", f"{i + 10:064x}") for i in (1, 2, 3)]
    pinned = Pinned(tuple(roster_of(parties)), 2, KeyPolicy())
    assert Pinned.from_public({"pinned": pinned.to_public()}) == pinned
    pinned.check_parties(parties[:2])
    for stranger in (Party("n2", 2, "ff" * 32, parties[1].encryption_public_key),
                     Party("n2", 2, parties[1].signing_public_key, "ee" * 32),
                     Party("n4", 2, parties[1].signing_public_key, parties[1].encryption_public_key),
                     Party("n2", 4, parties[1].signing_public_key, parties[1].encryption_public_key)):
        with pytest.raises(ApplicationError) as refused:
            pinned.check_parties([parties[0], stranger])
        assert code_of(refused) == "roster_mismatch"
    assert Pinned.from_public({}) is None
