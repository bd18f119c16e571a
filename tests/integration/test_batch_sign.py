"""Batch signing (issue 12 part 3): `digests` on POST /v1/keys/{id}/sign.

One session and one intent cover the whole list; every signer uses one nonce per digest and checks
every digest against the intent; each signature is verified before release and the session lists them
in request order. Bad input is 422 and starts nothing; nodes refuse a batch that is not exactly the
intent's (reordered, shortened, a single-digest intent, one commitment twice) before any nonce is used.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import asdict, replace
from typing import Any

import pytest
from temporalio.client import Client

from mpc.db import create_engine, session_factory
from mpc.db.models import Key
from mpc.envelope import Envelope
from mpc.queues import participant_task_queue
from tests.integration.attacker import run_probe
from tests.integration.helpers import check_signature, create_key
from tests.integration.intents import make_intent, mint, sign_details
from tests.integration.probe import ProbeCall
from tests.integration.test_node_authorisation import fresh_commitments, parties, refused, share_store
from tests.integration.test_safety import stack_db_url
from tests.stack import Stack
from workflows.types import FrostBatchSignRequest, FrostSignRequest, SignItem, WireMessage

NODES = ["p1", "p2", "p3"]


def digests_of(tag: str, count: int) -> list[str]:
    return [hashlib.sha256(f"{tag} {i}".encode()).hexdigest() for i in range(count)]


def session_count(client: Any, key_id: str) -> int:
    return client.get("/v1/sessions", params={"key_id": key_id}).json()["total"]


@pytest.fixture(scope="module")
def key(stack: Stack) -> dict[str, Any]:
    with stack.client() as api:
        return create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=NODES)


@pytest.mark.parametrize(("curve", "chain"), [("ed25519", "ed25519"), ("secp256k1", "schnorr"),
                                              ("secp256k1-tr", "bitcoin")])
def test_batch_signs_every_digest_in_request_order(stack: Stack, curve: str, chain: str) -> None:
    with stack.client() as api:
        key = create_key(api, curve=curve, chain_type=chain, threshold=2, nodes=NODES)  # opts into raw digests
        digests = digests_of(f"batch {curve}", 5)
        reply = api.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digests": digests})
        assert reply.status_code == 200, reply.text
        session = reply.json()
        assert session["status"] == "completed", session["error"]
        assert session["message_hashes"] == digests and len(session["signatures"]) == len(digests)
        assert session["signature"] is None and session["message_hash"] is None
        for digest, signature in zip(digests, session["signatures"], strict=True):
            check_signature(key, digest, signature)  # independent verifiers, and not for another digest
        # One session for the whole list, and it reads the same later.
        assert session_count(api, key["key_id"]) == 2  # the keygen and this batch
        shown = api.get(f"/v1/sessions/{session['session_id']}").json()
        assert shown["signatures"] == session["signatures"] and shown["message_hashes"] == digests
        # A single digest answers exactly as before: `signature`, no list.
        single = api.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digest": digests[0]}).json()
        assert single["status"] == "completed" and single["signatures"] is None and single["message_hashes"] is None
        check_signature(key, digests[0], single["signature"])


def test_batch_from_the_pool_is_one_round_and_a_larger_one_makes_its_nonces(stack: Stack,
                                                                           key: dict[str, Any]) -> None:
    """NONCE_POOL_TARGET is 3 on the test stack: two digests fit the pool (one round, once it refilled),
    twenty do not, so their nonces come from a commitment round in the same session (two rounds)."""
    with stack.client() as api:
        rounds = []
        for attempt in range(20):
            reply = api.post(f"/v1/keys/{key['key_id']}/sign?wait=true",
                             json={"digests": digests_of(f"pooled {attempt}", 2)})
            assert reply.status_code == 200 and reply.json()["status"] == "completed", reply.text
            rounds.append(reply.json()["total_rounds"])
            if rounds[-1] == 1:
                break
            time.sleep(0.5)  # the refill after keygen and after each session runs in the background
        assert rounds[-1] == 1, rounds
        digests = digests_of("more than the pool", 20)
        session = api.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digests": digests}).json()
        assert session["status"] == "completed" and session["total_rounds"] == 2, session
        for digest, signature in zip(digests, session["signatures"], strict=True):
            check_signature(key, digest, signature)


def test_bad_batches_are_422_and_start_nothing(stack: Stack, key: dict[str, Any]) -> None:
    one = digests_of("bad", 1)[0]
    bodies = {
        "duplicate": {"digests": [one, one]},
        "duplicate after normalising": {"digests": [one, "0x" + one.upper()]},
        "short digest": {"digests": [one, one[:62]]},
        "long digest": {"digests": [one + "00"]},
        "not hex": {"digests": ["zz" * 32]},
        "over the limit": {"digests": digests_of("many", 257)},
        "empty list": {"digests": []},
        "both": {"digest": one, "digests": [one]},
        "neither": {},
        "not a list": {"digests": one},
    }
    with stack.client() as api:
        before = session_count(api, key["key_id"])
        for name, body in bodies.items():
            reply = api.post(f"/v1/keys/{key['key_id']}/sign", json=body)
            assert reply.status_code == 422, (name, reply.text)
            assert reply.json()["error"]["code"] == "validation_error", (name, reply.text)
        reply = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digests": [one], "derivation_path": "m/0/1"})
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "batch_not_supported", reply.text
        assert session_count(api, key["key_id"]) == before
        # At the limit is fine.
        reply = api.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digests": digests_of("limit", 256)})
        assert reply.status_code == 200 and len(reply.json()["signatures"]) == 256, reply.text[:300]


async def test_batch_on_a_transactions_only_key_is_refused_by_api_and_nodes(stack: Stack, client: Client,
                                                                           probe: str) -> None:
    """Purpose binding (SECURITY.md I7) holds for every digest of a batch: a key whose policy pins
    allow_raw_digest off is 422 at the API, and each node refuses a batch intent for it before any nonce."""
    with stack.client() as api:
        key = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=NODES,
                         allow_raw_digest=False)
        assert key["allow_raw_digest"] is False
        before = session_count(api, key["key_id"])
        reply = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digests": digests_of("raw", 2)})
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "raw_digest_not_allowed", reply.text
        reply = api.post(f"/v1/keys/{key['key_id']}/sign",
                         json={"digests": digests_of("child", 2), "derivation_path": "m/0/1"})
        assert reply.status_code == 422, reply.text
        assert session_count(api, key["key_id"]) == before
    signers = parties(stack, ["p1", "p2"])
    commitments = await fresh_commitments(client, probe, key["key_id"], ["p1", "p2"])
    d1 = digests_of("raw on the node", 1)[0]
    details = {**sign_details(d1, NODES, chain_type="bitcoin"), "digest": None, "digests": [d1],
               "derivation_path": None}
    request = FrostBatchSignRequest(session_id=f"raw-{uuid.uuid4()}", key_id=key["key_id"], signers=signers,
                                    items=[SignItem(d1, commitments)], taproot_tweak=True,
                                    intent=mint(stack, make_intent(operation="sign", key_id=key["key_id"],
                                                                   details=details)))
    answers = await run_probe(client, probe, [ProbeCall("participant.frost_sign_batch",
                                                        participant_task_queue(n), asdict(request))
                                              for n in ("p1", "p2")])
    for answer in answers:
        refused(answer, "raw_digest_not_allowed")
    _, state = share_store(stack, "p1")
    assert not state.is_consumed("frost-nonces", own_nonce_id(commitments[0]))


def test_batch_on_an_ecdsa_key_is_422(stack: Stack) -> None:
    """GG18 keys, and GG20 keys without a presignature pool (this stack: PRESIGN_POOL_TARGET=0), sign one
    digest per session: a batch of raw digests is refused before anything starts."""
    key_id = str(uuid.uuid4())

    async def add_key() -> None:
        engine = create_engine(stack_db_url(stack), pool_size=1)
        try:
            async with session_factory(engine)() as db:
                db.add(Key(key_id=key_id, protocol="gg20", curve="secp256k1", threshold=2, total_nodes=3,
                           participants=NODES, chain_type="ethereum", status="active", public_data={}))
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(add_key())
    with stack.client() as api:
        reply = api.post(f"/v1/keys/{key_id}/sign", json={"digests": digests_of("ecdsa", 2)})
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "batch_not_supported", reply.text
        assert session_count(api, key_id) == 0


# ---- on the nodes: the batch must be exactly the intent's ---------------------------------------------


def own_nonce_id(wire: WireMessage) -> str:
    return str(json.loads(Envelope.from_dict(json.loads(wire.body)).payload_bytes())["nonce_id"])


async def test_nodes_check_every_digest_against_the_intent(stack: Stack, client: Client, probe: str,
                                                          key: dict[str, Any]) -> None:
    key_id, signers = key["key_id"], parties(stack, ["p1", "p2"])
    first = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    second = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    d1, d2 = digests_of("node check", 2)
    details = {**sign_details(d1, NODES), "digest": None}

    def batch_intent(digests: list[str]) -> Any:
        return mint(stack, make_intent(operation="sign", key_id=key_id, details={**details, "digests": digests}))

    honest = FrostBatchSignRequest(session_id=f"batch-{uuid.uuid4()}", key_id=key_id, signers=signers,
                                   items=[SignItem(d1, first), SignItem(d2, second)], intent=batch_intent([d1, d2]))
    attempts = {
        "intent_mismatch": [
            replace(honest, items=[SignItem(d2, first), SignItem(d1, second)]),  # reordered
            replace(honest, items=[SignItem(d1, first)]),  # one digest left out
            replace(honest, intent=mint(stack, make_intent(operation="sign", key_id=key_id,
                                                           details=sign_details(d1, NODES)))),  # a single-digest intent
        ],
        "duplicate_commitment": [replace(honest, items=[SignItem(d1, first), SignItem(d2, first)])],
    }
    calls, expected = [], []
    for code, requests in attempts.items():
        for number, request in enumerate(requests):
            request = replace(request, session_id=f"{honest.session_id}-{code}-{number}")
            for node in ("p1", "p2"):
                calls.append(("participant.frost_sign_batch", node, asdict(request)))
                expected.append(code)
    # And the batch intent does not authorise a single-digest signature of one of its digests.
    single = FrostSignRequest(session_id=f"{honest.session_id}-single", key_id=key_id, digest=d1, signers=signers,
                              commitments=first, intent=honest.intent)
    calls += [("participant.frost_sign", node, asdict(single)) for node in ("p1", "p2")]
    expected += ["intent_mismatch", "intent_mismatch"]
    answers = await run_probe(client, probe, [ProbeCall(a, participant_task_queue(n), body) for a, n, body in calls])
    for answer, code in zip(answers, expected, strict=True):
        refused(answer, code)
    _, state = share_store(stack, "p1")
    nonces = [own_nonce_id(first[0]), own_nonce_id(second[0])]
    assert not any(state.is_consumed("frost-nonces", n) for n in nonces), "a refused batch consumed a nonce"

    # The honest batch with the very same nonces signs: two shares per node, and every nonce is consumed.
    calls = [ProbeCall("participant.frost_sign_batch", participant_task_queue(n), asdict(honest)) for n in ("p1", "p2")]
    answers = await run_probe(client, probe, calls)
    assert all(a.ok for a in answers), [a.message for a in answers]
    assert all(len(a.result["shares"]) == 2 for a in answers)
    assert all(state.is_consumed("frost-nonces", n) for n in nonces)
    # A byte-identical retry gets the stored shares back (N3); other input for that session is refused.
    again = await run_probe(client, probe, calls[:1])
    assert again[0].ok and again[0].result == answers[0].result
    changed = replace(honest, items=list(reversed(honest.items)))
    refused((await run_probe(client, probe, [ProbeCall("participant.frost_sign_batch", participant_task_queue("p1"),
                                                       asdict(changed))]))[0], "round_input_changed")
