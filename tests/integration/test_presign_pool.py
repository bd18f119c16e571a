"""GG20 presignature pool (issue 12 part 4) on the real stack, through an API that keeps two per signer set.

A GG20 key's keygen starts a refill for its first t holders; a sign with those signers claims one pooled
presignature and runs only the online round (one activity per signer, combined on the coordinator from
the pool's public record); every signature verifies (libsecp256k1, OpenSSL, eth_account).
A refresh (a new epoch) voids the pool: the next sign presigns in its own session, still verifies, and the
refill makes presignatures of the new epoch. A pool presign needs no intent but only the pinned holders may
run one; the online round that would use it needs the sign intent for exactly its signer set, refusals
consume nothing, and a presignature answers once (SECURITY.md N2, N5, A1). A refill waits while signatures
draw on the pool (workflows/presign_pool.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.client import Client

from mpc.db import create_engine, session_factory
from mpc.db.models import SHARED_WORKFLOW_PREFIX, PooledPresignature
from mpc.envelope import Envelope
from mpc.protocols import Activity
from mpc.queues import COORDINATOR_TASK_QUEUE, participant_task_queue
from tests.integration.attacker import run_probe
from tests.integration.helpers import create_key, sign
from tests.integration.intents import forge, make_intent, mint, sign_details
from tests.integration.probe import ProbeCall
from tests.integration.test_ecdsa_e2e import check_ecdsa_signature
from tests.integration.test_node_authorisation import parties, refused
from tests.integration.test_reshare import change
from tests.services import free_port, start_api
from tests.stack import Stack
from tss.ecdsa.gg20 import PresignaturePublic, combine_public
from tss.ecdsa.rounds import pt
from workflows.presign_pool import PresignPoolRefillWorkflow, presign_pool_workflow_id, presign_refill_request
from workflows.types import Gg20OnlineBatchRequest, Gg20OnlineItem, Gg20OnlineSignRequest, RoundPolicy

TARGET = 2


@pytest.fixture(scope="module")
def pool_api(stack: Stack) -> Iterator[httpx.Client]:
    """A second API process of the same stack whose sign and keygen requests keep GG20 pools of TARGET."""
    process, url = start_api({**stack.env, "PRESIGN_POOL_TARGET": str(TARGET), "GRPC_PORT": str(free_port())},
                             stack.log_dir, name="api-presign-pool")
    try:
        with httpx.Client(base_url=url, headers=stack.headers, timeout=240) as client:
            yield client
    finally:
        process.stop()


def pool_rows(database_url: str, key_id: str) -> list[PooledPresignature]:
    async def read() -> list[PooledPresignature]:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine)() as db:
                rows = await db.execute(select(PooledPresignature).where(PooledPresignature.key_id == key_id))
                return list(rows.scalars().all())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def take_from_pool(database_url: str, presig_ids: list[str], at: datetime | None = None) -> None:
    """Mark presignatures a probe uses on the nodes directly as claimed, as a session's claim would, so that
    later sessions do not draw them; `at` also dates the claim (a refill sees signatures drawing on the pool)."""
    async def claim() -> None:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine)() as db, db.begin():
                await db.execute(update(PooledPresignature).where(PooledPresignature.presig_id.in_(presig_ids))
                                 .values(claimed_session_id=f"probe-{uuid.uuid4()}", claimed_at=at))
        finally:
            await engine.dispose()

    asyncio.run(claim())


def wait_for_pool(database_url: str, key_id: str, epoch: int, timeout: float = 180,
                  want: int = TARGET) -> list[PooledPresignature]:
    deadline = time.monotonic() + timeout
    while True:
        ready = [r for r in pool_rows(database_url, key_id) if r.claimed_session_id is None and r.epoch == epoch]
        if len(ready) >= want or time.monotonic() > deadline:
            return ready
        time.sleep(0.5)


def sign_audit(api: httpx.Client, key_id: str, session_id: str) -> dict[str, Any]:
    entries = api.get("/v1/audit-logs", params={"resource_id": key_id, "limit": 100}).json()["entries"]
    return next(e for e in entries if e["action"] == "key.sign" and e["session_id"] == session_id)


@pytest.fixture(scope="module")
def pooled_key(stack: Stack, pool_api: httpx.Client) -> dict[str, Any]:
    return create_key(pool_api, protocol="gg20", chain_type="ethereum", threshold=2, nodes=["p1", "p2", "p3"])


def test_sign_from_the_pool_runs_the_online_round_only(migrated_db: str, pool_api: httpx.Client,
                                                       pooled_key: dict[str, Any]) -> None:
    key_id = pooled_key["key_id"]
    ready = wait_for_pool(migrated_db, key_id, epoch=0)
    assert len(ready) == TARGET and {r.signer_set for r in ready} == {"p1,p2"}
    message = f"{key_id} pooled".encode()
    session = sign(pool_api, key_id, message)
    assert session["status"] == "completed", session["error"]
    assert sorted(session["participants"]) == ["p1", "p2"]
    check_ecdsa_signature(pooled_key, hashlib.sha256(message).digest(), session["signature"])
    assert sign_audit(pool_api, key_id, session["session_id"])["details"]["used_pool"] is True
    claimed = [r for r in pool_rows(migrated_db, key_id) if r.claimed_session_id is not None]
    assert [r.claimed_session_id.split(".")[0] for r in claimed] == [session["session_id"]]
    assert claimed[0].presig_id in {r.presig_id for r in ready}

    # Another signer pair has no pool: presign and sign in the session, still one valid signature.
    other = sign(pool_api, key_id, message + b" by p2,p3", signers=["p2", "p3"])
    assert other["status"] == "completed", other["error"]
    check_ecdsa_signature(pooled_key, hashlib.sha256(message + b" by p2,p3").digest(), other["signature"])
    assert sign_audit(pool_api, key_id, other["session_id"])["details"]["used_pool"] is False


def test_an_epoch_change_voids_the_pool(migrated_db: str, pool_api: httpx.Client,
                                        pooled_key: dict[str, Any]) -> None:
    key_id = pooled_key["key_id"]
    assert wait_for_pool(migrated_db, key_id, epoch=0), "the pool of epoch 0 was never refilled"
    change(pool_api, key_id, "refresh", reason="presign pool epoch")
    assert pool_api.get(f"/v1/keys/{key_id}").json()["epoch"] == 1
    message = f"{key_id} after refresh".encode()
    session = sign(pool_api, key_id, message)
    assert session["status"] == "completed", session["error"]
    check_ecdsa_signature(pooled_key, hashlib.sha256(message).digest(), session["signature"])
    # The claim dropped every presignature of epoch 0: this session presigned for itself.
    assert sign_audit(pool_api, key_id, session["session_id"])["details"]["used_pool"] is False
    assert all(r.epoch == 1 for r in pool_rows(migrated_db, key_id))
    assert len(wait_for_pool(migrated_db, key_id, epoch=1)) == TARGET  # and the refill makes new ones
    again = sign(pool_api, key_id, message + b" again")
    assert again["status"] == "completed", again["error"]
    check_ecdsa_signature(pooled_key, hashlib.sha256(message + b" again").digest(), again["signature"])
    assert sign_audit(pool_api, key_id, again["session_id"])["details"]["used_pool"] is True


async def test_only_pinned_holders_presign_and_a_presignature_never_signs_without_intent(
        stack: Stack, migrated_db: str, client: Client, probe: str, pooled_key: dict[str, Any]) -> None:
    key_id = pooled_key["key_id"]
    signers = parties(stack, ["p1", "p2"])
    params = {"key_id": key_id, "curve": "secp256k1", "threshold": 2}
    forged = [signers[0], replace(signers[1], signing_public_key="ab" * 32)]  # p2 with another identity key
    for roster, extra, code in ((forged, {}, "roster_mismatch"),
                                (signers, {"digest": "cd" * 32}, "unauthorized"),
                                (signers, {"derivation_path": "m/0"}, "unauthorized")):
        hello = {"session_id": f"presign-{uuid.uuid4()}", "workflow_id": "attacker", "protocol": "gg20-presign",
                 "parties": [asdict(p) for p in roster], "intent": None, "params": {**params, **extra}}
        answers = await run_probe(client, probe, [ProbeCall("participant.session_hello",
                                                            participant_task_queue("p1"), hello)])
        refused(answers[0], code)

    # A pooled presignature's id is public (the coordinator's table): its online round needs the sign intent.
    rows = await asyncio.to_thread(pool_rows, migrated_db, key_id)
    row = next(r for r in rows if r.claimed_session_id is None and r.signer_set == "p1,p2")
    await asyncio.to_thread(take_from_pool, migrated_db, [row.presig_id])
    epoch = row.epoch
    digest = hashlib.sha256(b"pay the attacker from the pool").hexdigest()

    def intent(for_digest: str, named: list[str], **changes: Any) -> Any:
        details = sign_details(for_digest, named, protocol="gg20", chain_type="ethereum")
        return make_intent(**{"operation": "sign", "key_id": key_id, "epoch": epoch, "details": details,
                              **changes})

    def online(session: str, request_signers: list[Any], signed: Any, for_digest: str = digest) -> dict[str, Any]:
        return asdict(Gg20OnlineSignRequest(f"{session}-{uuid.uuid4()}", key_id, for_digest, row.presig_id,
                                            request_signers, signed))

    p1_p3 = parties(stack, ["p1", "p3"])
    attempts = [
        (online("none", signers, None), "unauthorized"),
        (online("forged", signers, forge(intent(digest, ["p1", "p2"]))), "unauthorized"),
        (online("other-digest", signers, mint(stack, intent("ee" * 32, ["p1", "p2"]))), "intent_mismatch"),
        (online("old-epoch", signers, mint(stack, intent(digest, ["p1", "p2"], epoch=epoch - 1))), "intent_mismatch"),
        # Signers the presignature was not made for: refused before anything is consumed.
        (online("other-signers", p1_p3, mint(stack, intent(digest, ["p1", "p3"]))), "presignature_mismatch"),
    ]
    answers = await run_probe(client, probe, [ProbeCall("participant.gg20_sign_online", participant_task_queue("p1"),
                                                        request) for request, _ in attempts])
    for answer, (_, code) in zip(answers, attempts, strict=True):
        refused(answer, code)

    # Nothing was consumed: the same presignature answers an authorised request once, and the shares combine
    # (from the pool's public record only) into a signature that verifies.
    honest_digest = hashlib.sha256(b"an authorised payment from the pool").hexdigest()
    authorised = online("honest", signers, mint(stack, intent(honest_digest, ["p1", "p2"])), honest_digest)
    answers = await run_probe(client, probe, [ProbeCall("participant.gg20_sign_online", participant_task_queue(n),
                                                        authorised) for n in ("p1", "p2")])
    assert all(a.ok for a in answers), [a.message for a in answers]
    shares = {}
    for answer in answers:
        body = json.loads(Envelope.from_dict(json.loads(answer.result["body"])).payload_bytes())
        shares[int(body["party_id"])] = int(body["s"], 16)
    public = PresignaturePublic.from_dict(row.shares_public, pt(pooled_key["public_key"]))
    signature = combine_public(public, bytes.fromhex(honest_digest), shares).to_bytes().hex()
    check_ecdsa_signature(pooled_key, bytes.fromhex(honest_digest), signature)
    # ... and never again, whatever the intent (SECURITY.md N2).
    again_digest = hashlib.sha256(b"the same presignature twice").hexdigest()
    again = online("again", signers, mint(stack, intent(again_digest, ["p1", "p2"])), again_digest)
    answers = await run_probe(client, probe, [ProbeCall("participant.gg20_sign_online", participant_task_queue("p1"),
                                                        again)])
    refused(answers[0], "nonce_consumed")


# ---- batches: one presignature per digest, one online round ----------------------------------------------


def current_epoch(api: httpx.Client, key_id: str) -> int:
    return int(api.get(f"/v1/keys/{key_id}").json()["epoch"])


def test_a_batch_signs_its_pooled_digests_in_one_round_and_presigns_the_rest(
        stack: Stack, migrated_db: str, pool_api: httpx.Client, pooled_key: dict[str, Any]) -> None:
    key_id = pooled_key["key_id"]
    # The probe above took a presignature outside any session: a signature starts the refill it needs.
    assert sign(pool_api, key_id, f"{key_id} before the batch".encode())["status"] == "completed"
    ready = wait_for_pool(migrated_db, key_id, current_epoch(pool_api, key_id))
    assert len(ready) == TARGET
    digests = [hashlib.sha256(f"{key_id} batch {i}".encode()).hexdigest() for i in range(TARGET + 1)]
    reply = pool_api.post(f"/v1/keys/{key_id}/sign?wait=true", json={"digests": digests})
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["status"] == "completed", session["error"]
    assert len(session["signatures"]) == len(digests)
    for digest, signature in zip(digests, session["signatures"], strict=True):
        check_ecdsa_signature(pooled_key, bytes.fromhex(digest), signature)  # in request order
    details = sign_audit(pool_api, key_id, session["session_id"])["details"]
    assert details["used_pool"] is True and details["digests"] == digests
    # The pool served the first TARGET digests, each under its own claim id; the last one had none left.
    claims = {r.claimed_session_id: r.presig_id for r in pool_rows(migrated_db, key_id)
              if (r.claimed_session_id or "").startswith(session["session_id"])}
    pooled = [f"{session['session_id']}.1.{i}" for i in range(TARGET)]
    assert set(pooled) <= set(claims) and {claims[c] for c in pooled} <= {r.presig_id for r in ready}
    if os.environ.get("MPC_RECORD_HISTORIES") == "1":  # the replay test's GG20 batch history (tests/workflows)
        asyncio.run(record_history(stack, "sign-gg20-batch", session["workflow_id"]))


async def record_history(stack: Stack, name: str, workflow_id: str) -> None:
    raw = await Client.connect(stack.env["TEMPORAL_ADDRESS"])  # without the codec: what the server stores
    history = await raw.get_workflow_handle(workflow_id).fetch_history()
    histories = Path(__file__).parents[1] / "workflows" / "histories"
    (histories / f"{name}-{workflow_id[:40]}.json").write_text(history.to_json())


def test_concurrent_requests_share_one_online_round(migrated_db: str, pool_api: httpx.Client,
                                                    pooled_key: dict[str, Any]) -> None:
    """Requests that come while one of the key's sessions runs start together, one presignature each."""
    key_id = pooled_key["key_id"]
    assert len(wait_for_pool(migrated_db, key_id, current_epoch(pool_api, key_id))) == TARGET
    digests = [hashlib.sha256(f"{key_id} concurrent {i}".encode()).hexdigest() for i in range(4)]

    def one(digest: str) -> httpx.Response:
        with httpx.Client(base_url=pool_api.base_url, headers=pool_api.headers, timeout=240) as api:
            return api.post(f"/v1/keys/{key_id}/sign?wait=true", json={"digest": digest})

    with concurrent.futures.ThreadPoolExecutor(len(digests)) as threads:
        replies = list(threads.map(one, digests))
    assert all(reply.status_code == 200 for reply in replies), [r.text for r in replies]
    sessions = [reply.json() for reply in replies]
    for digest, session in zip(digests, sessions, strict=True):
        assert session["status"] == "completed", session["error"]
        check_ecdsa_signature(pooled_key, bytes.fromhex(digest), session["signature"])  # its own digest's
    shared = [s for s in sessions if s["workflow_id"].startswith(SHARED_WORKFLOW_PREFIX)]
    assert len(shared) >= 2, [s["workflow_id"] for s in sessions]
    for session in shared:
        details = sign_audit(pool_api, key_id, session["session_id"])["details"]
        assert details["digest"] == session["message_hash"] and details["coalesced_in"]


async def test_a_batch_online_round_checks_every_item_before_consuming_any(
        stack: Stack, migrated_db: str, client: Client, probe: str, pool_api: httpx.Client,
        pooled_key: dict[str, Any]) -> None:
    key_id = pooled_key["key_id"]
    epoch = current_epoch(pool_api, key_id)
    rows = await asyncio.to_thread(wait_for_pool, migrated_db, key_id, epoch)
    first, second = rows[0].presig_id, rows[1].presig_id
    await asyncio.to_thread(take_from_pool, migrated_db, [first, second])
    signers = parties(stack, ["p1", "p2"])
    d1, d2 = (hashlib.sha256(f"{key_id} probe batch {i}".encode()).hexdigest() for i in range(2))
    details = {**sign_details(d1, ["p1", "p2"], protocol="gg20", chain_type="ethereum"), "digest": None}

    def batch(items: list[Gg20OnlineItem], digests: list[str], named: list[Any] = signers) -> Gg20OnlineBatchRequest:
        nodes = [p.node_id for p in named]
        intent = mint(stack, make_intent(operation="sign", key_id=key_id, epoch=epoch,
                                         details={**details, "digests": digests, "signers": nodes}))
        return Gg20OnlineBatchRequest(f"probe-batch-{uuid.uuid4()}", key_id, items, named, intent)

    honest = batch([Gg20OnlineItem(0, d1, first), Gg20OnlineItem(1, d2, second)], [d1, d2])
    attempts = [
        (replace(honest, session_id=f"{honest.session_id}-swapped",
                 items=[Gg20OnlineItem(0, d2, first), Gg20OnlineItem(1, d1, second)]), "intent_mismatch"),
        (replace(honest, session_id=f"{honest.session_id}-twice",
                 items=[Gg20OnlineItem(0, d1, first), Gg20OnlineItem(1, d2, first)]), "invalid_batch"),
        (batch([Gg20OnlineItem(0, d1, first), Gg20OnlineItem(1, d2, second)], [d1]), "intent_mismatch"),
        (replace(honest, session_id=f"{honest.session_id}-no-intent", intent=None), "unauthorized"),
        # Signers the presignatures were not made for, under an intent naming them (N5).
        (batch([Gg20OnlineItem(0, d1, first), Gg20OnlineItem(1, d2, second)], [d1, d2],
               parties(stack, ["p1", "p3"])), "presignature_mismatch"),
    ]
    answers = await run_probe(client, probe, [ProbeCall("participant.gg20_sign_online_batch",
                                                        participant_task_queue("p1"), asdict(request))
                                              for request, _ in attempts])
    for answer, (_, code) in zip(answers, attempts, strict=True):
        refused(answer, code)

    # Nothing was consumed: the honest batch signs both digests, and each pair of shares combines from the
    # pool's public record alone into a signature that verifies.
    calls = [ProbeCall("participant.gg20_sign_online_batch", participant_task_queue(n), asdict(honest))
             for n in ("p1", "p2")]
    answers = await run_probe(client, probe, calls)
    assert all(a.ok for a in answers), [a.message for a in answers]
    by_presig = {r.presig_id: r for r in rows}
    for index, (digest, presig_id) in enumerate(((d1, first), (d2, second))):
        shares = {}
        for answer in answers:
            wire = answer.result["shares"][index]
            body = json.loads(Envelope.from_dict(json.loads(wire["body"])).payload_bytes())
            assert (body["digest"], body["presig_id"]) == (digest, presig_id)
            shares[int(body["party_id"])] = int(body["s"], 16)
        public = PresignaturePublic.from_dict(by_presig[presig_id].shares_public, pt(pooled_key["public_key"]))
        check_ecdsa_signature(pooled_key, bytes.fromhex(digest),
                              combine_public(public, bytes.fromhex(digest), shares).to_bytes().hex())
    # A byte-identical retry gets the stored answer back (N3); the presignatures never sign again (N2).
    again = await run_probe(client, probe, calls[:1])
    assert again[0].ok and again[0].result == answers[0].result
    reuse = batch([Gg20OnlineItem(0, d1, first)], [d1])
    refused((await run_probe(client, probe, [ProbeCall("participant.gg20_sign_online_batch",
                                                       participant_task_queue("p1"), asdict(reuse))]))[0],
            "nonce_consumed")


# ---- the refill yields to signatures drawing on the pool -------------------------------------------------


async def test_a_refill_waits_while_signatures_draw_on_the_pool(stack: Stack, migrated_db: str, client: Client,
                                                                pool_api: httpx.Client) -> None:
    key = await asyncio.to_thread(create_key, pool_api, protocol="gg20", chain_type="ethereum", threshold=2,
                                  nodes=["p1", "p2", "p3"])
    key_id = key["key_id"]
    ready = await asyncio.to_thread(wait_for_pool, migrated_db, key_id, 0)
    assert len(ready) == TARGET
    # A signature draws one: the pool is at half its target, where a refill starts.
    await asyncio.to_thread(take_from_pool, migrated_db, [ready[0].presig_id], datetime.now(UTC))
    signers = await asyncio.to_thread(parties, stack, ["p1", "p2"])
    handle = await client.start_workflow(
        PresignPoolRefillWorkflow.run, presign_refill_request(key_id, "secp256k1", signers, TARGET, RoundPolicy()),
        id=f"{presign_pool_workflow_id(key_id, ['p1', 'p2'])}-yields", task_queue=COORDINATOR_TASK_QUEUE)
    # Signatures go on drawing for three seconds: the refill presigns nothing meanwhile.
    until = time.monotonic() + 3
    while time.monotonic() < until:
        await asyncio.to_thread(take_from_pool, migrated_db, [ready[0].presig_id], datetime.now(UTC))
        await asyncio.sleep(0.2)
    quiet_since = datetime.now(UTC)
    result = await handle.result()
    assert result.failure is None and result.added == 1
    events = (await handle.fetch_history()).events
    hellos = [e.event_time.ToDatetime(tzinfo=UTC) for e in events
              if e.activity_task_scheduled_event_attributes.activity_type.name == Activity.HELLO.value]
    waits = [e for e in events if e.HasField("timer_started_event_attributes")]
    assert hellos and waits
    assert min(hellos) >= quiet_since - timedelta(milliseconds=100), "the refill presigned while the pool was drawn on"
    assert len(await asyncio.to_thread(wait_for_pool, migrated_db, key_id, 0)) == TARGET
    if os.environ.get("MPC_RECORD_HISTORIES") == "1":  # the replay test's refill history (tests/workflows)
        await record_history(stack, "presign-refill", handle.id)
