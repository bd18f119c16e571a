"""SECURITY.md section 10, rows 19-22: whoever drives Temporal cannot use a share without an intent.

The attacker here holds the payload-codec key and schedules participant activities directly on
their task queues (the probe workflow). Every request that lacks an intent, or whose intent was
forged, expired, replayed or names other parameters, is refused by each node as an
`InvalidRequest` naming no node; the refused requests consume nothing (the same nonce then signs
an honest, authorised request), the key stays active and an honest API signature still works.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client

from mpc.envelope import Envelope
from mpc.identity import NodeIdentity
from mpc.keystore import SecretStateStore, ShareStore, VaultTransitWrapper
from mpc.queues import participant_task_queue
from tests.integration.attacker import run_probe
from tests.integration.helpers import check_signature, create_key, sign
from tests.integration.intents import forge, make_intent, mint, sign_details
from tests.integration.probe import ProbeAnswer, ProbeCall
from tests.stack import Stack
from workflows.types import FrostSignRequest, IntentApproval, Party, PreprocessRequest, WireMessage

INVALID_REQUEST = "InvalidRequest"


@pytest.fixture(scope="module")
def key(stack: Stack) -> dict[str, Any]:
    with stack.client() as api:
        return create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])


def parties(stack: Stack, nodes: list[str]) -> list[Party]:
    with stack.client() as api:
        listed = {n["node_id"]: n for n in api.get("/v1/nodes").json()["nodes"]}
    order = {"p1": 1, "p2": 2, "p3": 3, "p4": 4, "p5": 5}
    return [Party(n, order[n], listed[n]["signing_public_key"], listed[n]["encryption_public_key"]) for n in nodes]


def share_store(stack: Stack, node_id: str) -> tuple[ShareStore, SecretStateStore]:
    wrapper = VaultTransitWrapper(stack.env["VAULT_ADDR"], stack.env["VAULT_TOKEN"], f"mpc-{node_id}")
    root = stack.data_dir / node_id
    return ShareStore(root / "keys", wrapper, node_id), SecretStateStore(root / "state", wrapper, node_id)


async def fresh_commitments(client: Client, probe: str, key_id: str, nodes: list[str]) -> list[WireMessage]:
    calls = [ProbeCall("participant.frost_preprocess", participant_task_queue(n),
                       asdict(PreprocessRequest(f"attacker-{uuid.uuid4()}", key_id, 1))) for n in nodes]
    answers = await run_probe(client, probe, calls)
    assert all(a.ok for a in answers), [a.message for a in answers]
    return [WireMessage(**a.result["commitments"][0]) for a in answers]


def refused(answer: ProbeAnswer, code: str) -> None:
    assert not answer.ok, "the node answered a request it must refuse"
    assert answer.error_type == INVALID_REQUEST and answer.error_code == code, (answer.error_code, answer.message)


def key_is_active(stack: Stack, key_id: str) -> None:
    with stack.client() as api:
        assert api.get(f"/v1/keys/{key_id}").json()["status"] == "active"


# ---- rows 19-21: signing ---------------------------------------------------------------------------


async def test_sign_without_a_valid_intent_is_refused_and_consumes_nothing(
        stack: Stack, client: Client, probe: str, key: dict[str, Any]) -> None:
    key_id, signers = key["key_id"], parties(stack, ["p1", "p2"])
    commitments = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    digest = hashlib.sha256(b"pay the attacker").hexdigest()
    base = FrostSignRequest(session_id=f"attack-{uuid.uuid4()}", key_id=key_id, digest=digest, signers=signers,
                            commitments=commitments)

    def sign_intent(**changes: Any) -> Any:
        fields = {"operation": "sign", "key_id": key_id, "details": sign_details(digest, ["p1", "p2", "p3"])}
        return make_intent(**{**fields, **changes})

    honest_digest = hashlib.sha256(b"an authorised payment").hexdigest()
    swapped = [signers[0], replace(signers[1], signing_public_key=NodeIdentity.generate("p2").public().ed25519)]
    attempts = {
        "unauthorized": [replace(base), replace(base, intent=forge(sign_intent()))],
        "intent_mismatch": [
            replace(base, intent=mint(stack, sign_intent(details=sign_details(honest_digest, ["p1", "p2"])))),
            replace(base, intent=mint(stack, sign_intent(details=sign_details(digest, ["p2", "p3"])))),
            replace(base, intent=mint(stack, sign_intent(key_id=str(uuid.uuid4())))),
            replace(base, intent=mint(stack, sign_intent(operation="export"))),
            replace(base, intent=mint(stack, sign_intent(epoch=1))),
        ],
        "intent_expired": [replace(base, intent=mint(stack, sign_intent(ttl=-5)))],
        "roster_mismatch": [replace(base, signers=swapped, intent=mint(stack, sign_intent()))],
    }
    calls, expected = [], []
    for code, requests in attempts.items():
        for number, request in enumerate(requests):
            request = replace(request, session_id=f"{base.session_id}-{code}-{number}")
            for node in ("p1", "p2"):
                calls.append(ProbeCall("participant.frost_sign", participant_task_queue(node), asdict(request)))
                expected.append(code)
    answers = await run_probe(client, probe, calls)
    for answer, code in zip(answers, expected, strict=True):
        refused(answer, code)

    # Nothing was consumed: the very same nonces now sign an authorised request, and it verifies.
    authorised = replace(base, digest=honest_digest, session_id=f"{base.session_id}-honest",
                         intent=mint(stack, sign_intent(details=sign_details(honest_digest, ["p1", "p2"]))))
    answers = await run_probe(client, probe, [
        ProbeCall("participant.frost_sign", participant_task_queue(n), asdict(authorised)) for n in ("p1", "p2")])
    assert all(a.ok for a in answers), [a.message for a in answers]
    key_is_active(stack, key_id)


async def test_an_intent_is_used_by_one_workflow_only(
        stack: Stack, client: Client, probe: str, key: dict[str, Any]) -> None:
    key_id, signers = key["key_id"], parties(stack, ["p1", "p2"])
    digest = hashlib.sha256(b"authorised once").hexdigest()
    intent = mint(stack, make_intent(operation="sign", key_id=key_id, details=sign_details(digest, ["p1", "p2"])))

    def request(commitments: list[WireMessage]) -> FrostSignRequest:
        return FrostSignRequest(session_id=f"replay-{uuid.uuid4()}", key_id=key_id, digest=digest, signers=signers,
                                commitments=commitments, intent=intent)

    first = request(await fresh_commitments(client, probe, key_id, ["p1", "p2"]))
    answers = await run_probe(client, probe, [ProbeCall("participant.frost_sign", participant_task_queue("p1"),
                                                        asdict(first))])
    assert answers[0].ok, answers[0].message
    # The same intent from another workflow, with fresh nonces: refused, and that nonce stays unused.
    second = request(await fresh_commitments(client, probe, key_id, ["p1", "p2"]))
    calls = [ProbeCall("participant.frost_sign", participant_task_queue("p1"), asdict(second))]
    refused((await run_probe(client, probe, calls))[0], "intent_reused")
    own = second.commitments[0]
    _, state = share_store(stack, "p1")
    nonce_id = str(json.loads(Envelope.from_dict(json.loads(own.body)).payload_bytes())["nonce_id"])
    assert nonce_id in state.one_time_ids("frost-nonces") and not state.is_consumed("frost-nonces", nonce_id)


async def test_honest_signing_still_works_after_the_attacks(stack: Stack, key: dict[str, Any]) -> None:
    with stack.client() as api:
        signed = sign(api, key["key_id"], b"after the attacks")
        assert signed["status"] == "completed", signed["error"]
        check_signature(key, signed["message_hash"], signed["signature"])
    key_is_active(stack, key["key_id"])


# ---- row 22: reshare, keygen, ECDSA hellos ---------------------------------------------------------


async def test_reshare_to_foreign_keys_is_refused_by_every_holder(
        stack: Stack, client: Client, probe: str, key: dict[str, Any]) -> None:
    """The attack of issue 9: a reshare whose new participants are the attacker's identity keys."""
    store, _ = share_store(stack, "p1")
    old_public = store.get_meta(key["key_id"]).public["package"]
    holders = parties(stack, ["p1", "p2", "p3"])
    attacker = [Party(f"evil-{i}", 10 + i, NodeIdentity.generate(f"evil-{i}").public().ed25519,
                      NodeIdentity.generate(f"evil-{i}").public().x25519) for i in (1, 2)]
    # Today's typed parameters carry no old group key at all (a dealer takes its own); an old-style
    # `old_public` field is ignored. Either way every holder refuses before dealing anything.
    params = {"key_id": key["key_id"], "epoch": 0, "curve": "ed25519", "old_public": old_public,
              "reshare": {"dealers": [1, 2, 3], "new_participants": [11, 12], "new_threshold": 2}}
    reshare = make_intent(operation="reshare", key_id=key["key_id"], details={"roster": "attacker's"})
    # A real API reshare intent, but for the holders' own committee: the attacker's session is not it.
    entries = [p.roster_entry() for p in holders]
    honest = make_intent(operation="reshare", key_id=key["key_id"], details={
        "protocol": "frost-reshare", "old_roster": entries, "old_package": old_public, "dealers": [1, 2, 3],
        "new_roster": entries, "new_threshold": 2, "policy": {"approvers": [], "quorum": {}}, "reason": None})
    calls, expected = [], []
    for intent, code in ((None, "unauthorized"), (asdict(forge(reshare)), "unauthorized"),
                         (asdict(mint(stack, reshare)), "intent_mismatch"),
                         (asdict(mint(stack, honest)), "intent_mismatch")):
        hello = {"session_id": f"reshare-{uuid.uuid4()}", "workflow_id": "attacker", "protocol": "frost-reshare",
                 "parties": [asdict(p) for p in holders + attacker], "params": params, "intent": intent}
        calls += [ProbeCall("participant.session_hello", participant_task_queue(p.node_id), hello) for p in holders]
        expected += [code] * len(holders)
    for answer, code in zip(await run_probe(client, probe, calls), expected, strict=True):
        refused(answer, code)
    for node in ("p1", "p2", "p3"):
        store, _ = share_store(stack, node)
        assert store.epochs(key["key_id"]) == [0]


async def test_keygen_hello_needs_the_intent_of_that_roster(stack: Stack, client: Client, probe: str) -> None:
    roster = parties(stack, ["p1", "p2", "p3"])
    key_id = str(uuid.uuid4())
    details = {"protocol": "frost-dkg", "curve": "ed25519", "threshold": 2, "chain_type": "ed25519",
               "roster": [p.roster_entry() for p in roster], "policy": {"approvers": [], "quorum": {}}}
    other_x25519 = NodeIdentity.generate("p3").public().x25519
    swapped = [roster[0], roster[1], replace(roster[2], encryption_public_key=other_x25519)]
    intent = asdict(mint(stack, make_intent(operation="keygen", key_id=key_id, details=details)))
    cases = [(roster, None, "unauthorized"), (swapped, intent, "intent_mismatch"),
             (roster, asdict(mint(stack, make_intent(operation="keygen", key_id=key_id,
                                                     details={**details, "threshold": 3}))), "intent_mismatch")]
    calls = []
    for members, signed, _ in cases:
        hello = {"session_id": f"keygen-{uuid.uuid4()}", "workflow_id": "attacker", "protocol": "frost-dkg",
                 "parties": [asdict(p) for p in members],
                 "params": {"key_id": key_id, "curve": "ed25519", "threshold": 2, "epoch": 0}, "intent": signed}
        calls.append(ProbeCall("participant.session_hello", participant_task_queue("p1"), hello))
    answers = await run_probe(client, probe, calls)
    for answer, (_, _, code) in zip(answers, cases, strict=True):
        refused(answer, code)


async def test_ecdsa_sign_hello_without_intent_is_refused(
        stack: Stack, client: Client, probe: str, key: dict[str, Any]) -> None:
    signers = parties(stack, ["p1", "p2"])
    digest = hashlib.sha256(b"ecdsa without intent").hexdigest()
    for protocol in ("gg18-sign", "gg20-presign"):
        hello = {"session_id": f"ecdsa-{uuid.uuid4()}", "workflow_id": "attacker", "protocol": protocol,
                 "parties": [asdict(p) for p in signers], "intent": None,
                 "params": {"key_id": key["key_id"], "curve": "secp256k1", "digest": digest, "threshold": 2}}
        answers = await run_probe(client, probe, [ProbeCall("participant.session_hello",
                                                            participant_task_queue("p1"), hello)])
        refused(answers[0], "unauthorized")


def test_keygen_pins_roster_threshold_and_policy_in_every_share(stack: Stack, key: dict[str, Any]) -> None:
    expected = [p.roster_entry() for p in parties(stack, ["p1", "p2", "p3"])]
    for node in ("p1", "p2", "p3"):
        store, _ = share_store(stack, node)
        pinned = store.get_meta(key["key_id"]).public["pinned"]
        assert pinned["roster"] == expected and pinned["threshold"] == 2
        assert pinned["policy"] == {"approvers": [], "quorum": {}}


async def test_nodes_enforce_the_pinned_quorum_themselves(stack: Stack, client: Client, probe: str) -> None:
    """The API's signature alone does not sign for a key whose policy needs an approver (A2)."""
    approver = Ed25519PrivateKey.generate()
    approver_hex = approver.public_key().public_bytes_raw().hex()
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"],
                         policy={"approvers": [{"name": "dana", "public_key": approver_hex}], "quorum": {"sign": 1}})
    key_id, signers = key["key_id"], parties(stack, ["p1", "p2"])
    digest = hashlib.sha256(b"needs dana").hexdigest()
    intent = mint(stack, make_intent(operation="sign", key_id=key_id, details=sign_details(digest, ["p1", "p2"])))
    commitments = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    request = FrostSignRequest(session_id=f"quorum-{uuid.uuid4()}", key_id=key_id, digest=digest, signers=signers,
                               commitments=commitments, intent=intent)
    outsider = Ed25519PrivateKey.generate()
    raw = bytes.fromhex(intent.intent)
    not_listed = replace(intent, approvals=[IntentApproval(outsider.public_key().public_bytes_raw().hex(),
                                                           outsider.sign(raw).hex())])
    bad_signature = replace(intent, approvals=[IntentApproval(approver_hex, approver.sign(b"other").hex())])
    approved = replace(intent, approvals=[IntentApproval(approver_hex, approver.sign(raw).hex())])
    queue = participant_task_queue("p1")
    answers = await run_probe(client, probe, [
        ProbeCall("participant.frost_sign", queue, asdict(replace(request, intent=signed)))
        for signed in (intent, not_listed, bad_signature)])
    for answer in answers:
        refused(answer, "unauthorized")
    answers = await run_probe(client, probe, [
        ProbeCall("participant.frost_sign", queue, asdict(replace(request, intent=approved)))])
    assert answers[0].ok, answers[0].message
