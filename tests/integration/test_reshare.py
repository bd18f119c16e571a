"""Refresh and reshare through the API on the real stack (issue 10): two phases, same key, new shares.

After every step: the same public key and address, signatures from every t-subset of the new
committee verify with independent verifiers, removed holders hold nothing, a sign intent or a
pooled nonce of the old epoch is refused, and a dealer that cheats is named while the key keeps
signing on its old epoch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

import activities.participant_rounds as participant_rounds
from activities.participant_rounds import ParticipantRounds
from mpc.keystore import VaultTransitWrapper
from mpc.queues import participant_task_queue
from mpc.settings import load_settings
from mpc.temporal_client import connect
from tests.integration.attacker import run_probe
from tests.integration.helpers import check_signature, create_key, sign, wait_session
from tests.integration.intents import make_intent, mint, sign_details
from tests.integration.probe import ProbeCall
from tests.integration.test_ecdsa_e2e import check_ecdsa_signature
from tests.stack import Stack
from tss.frost import get_ciphersuite
from tss.messages import RoundMessage
from workers.node_context import NodeContext
from workers.registration import Registrar
from workers.registry import participant_activity_list
from workflows.types import Party, PreprocessRequest, WireMessage

CHEAT = "cheat1"


def change(api: httpx.Client, key_id: str, action: str, **body: Any) -> dict[str, Any]:
    reply = api.post(f"/v1/keys/{key_id}/{action}?wait=true", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["status"] == "completed", session["error"]
    assert session["operation"] == action
    return session


def signs_with_every_subset(api: httpx.Client, key: dict[str, Any], holders: list[str], threshold: int) -> None:
    for signers in itertools.combinations(holders, threshold):
        message = f"{key['key_id']} by {','.join(signers)}".encode()
        session = sign(api, key["key_id"], message, signers=list(signers))
        assert session["status"] == "completed", (signers, session["error"])
        check_signature(key, hashlib.sha256(message).hexdigest(), session["signature"])


def held_epochs(stack: Stack, node: str, key_id: str) -> list[str]:
    folder = stack.data_dir / node / "keys" / key_id
    return sorted(p.name for p in folder.glob("epoch-*.share")) if folder.is_dir() else []


@pytest.mark.parametrize(("curve", "chain"), [("ed25519", "ed25519"), ("secp256k1-tr", "bitcoin")])
def test_2of3_to_3of5_to_2of3_replacing_nodes(stack: Stack, curve: str, chain: str) -> None:
    with stack.client() as api:
        key = create_key(api, curve=curve, chain_type=chain, threshold=2, nodes=["p1", "p2", "p3"])
        key_id = key["key_id"]
        change(api, key_id, "reshare", threshold=3, nodes=["p1", "p2", "p3", "p4", "p5"], reason="grow")
        grown = api.get(f"/v1/keys/{key_id}").json()
        assert (grown["public_key"], grown["address"]) == (key["public_key"], key["address"])
        assert grown["threshold"] == 3 and sorted(grown["participants"]) == ["p1", "p2", "p3", "p4", "p5"]
        signs_with_every_subset(api, key, ["p1", "p2", "p3", "p4", "p5"], 3)
        too_few = api.post(f"/v1/keys/{key_id}/sign", json={"digest": "ab" * 32, "signers": ["p1", "p2"]})
        assert too_few.status_code == 422 and too_few.json()["error"]["code"] == "invalid_signers"

        # Shrink to 2-of-3 with p4 in place of p3; p3 and p5 leave and erase what they held.
        change(api, key_id, "reshare", threshold=2, nodes=["p1", "p2", "p4"], reason="replace p3")
        shrunk = api.get(f"/v1/keys/{key_id}").json()
        assert (shrunk["public_key"], shrunk["address"]) == (key["public_key"], key["address"])
        signs_with_every_subset(api, key, ["p1", "p2", "p4"], 2)
        for gone in ("p3", "p5"):
            assert held_epochs(stack, gone, key_id) == [], gone
        for kept in ("p1", "p2", "p4"):
            assert held_epochs(stack, kept, key_id) == ["epoch-2.share"], kept
        stranger = api.post(f"/v1/keys/{key_id}/sign", json={"digest": "ab" * 32, "signers": ["p1", "p3"]})
        assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "not_a_participant"

        epochs = api.get(f"/v1/keys/{key_id}/epochs").json()["epochs"]
        assert [(e["epoch"], e["threshold"], e["reason"], e["active"]) for e in epochs] == [
            (0, 2, "keygen", False), (1, 3, "grow", False), (2, 2, "replace p3", True)]
        assert epochs[2]["holders"] == ["p1", "p2", "p4"]
        audit = api.get("/v1/audit-logs", params={"resource_id": key_id, "limit": 100}).json()["entries"]
        done = [e for e in audit if e["action"] == "key.reshare" and e["status"] == "success"]
        assert len(done) == 2 and all(e["details"]["erasure_pending"] == [] for e in done)


def test_gg20_2of3_to_2of4_adding_a_node_then_refresh(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, protocol="gg20", chain_type="ethereum", threshold=2, nodes=["p1", "p2", "p3"])
        key_id = key["key_id"]
        change(api, key_id, "reshare", threshold=2, nodes=["p1", "p2", "p3", "p4"], reason="add p4")
        grown = api.get(f"/v1/keys/{key_id}").json()
        assert (grown["public_key"], grown["address"], grown["epoch"]) == (key["public_key"], key["address"], 1)
        ecdsa_signs_with_every_subset(api, key, ["p1", "p2", "p3", "p4"], 2)
        change(api, key_id, "refresh", reason="proactive")
        fresh = api.get(f"/v1/keys/{key_id}").json()
        assert (fresh["public_key"], fresh["address"], fresh["epoch"]) == (key["public_key"], key["address"], 2)
        ecdsa_signs_with_every_subset(api, key, ["p1", "p4"], 2)
        for node in ("p1", "p2", "p3", "p4"):
            assert held_epochs(stack, node, key_id) == ["epoch-2.share"], node
        epochs = api.get(f"/v1/keys/{key_id}/epochs").json()["epochs"]
        assert [(e["epoch"], len(e["holders"]), e["reason"]) for e in epochs] == [
            (0, 3, "keygen"), (1, 4, "add p4"), (2, 4, "proactive")]


def ecdsa_signs_with_every_subset(api: httpx.Client, key: dict[str, Any], holders: list[str], threshold: int) -> None:
    for signers in itertools.combinations(holders, threshold):
        message = f"{key['key_id']} by {','.join(signers)}".encode()
        session = sign(api, key["key_id"], message, signers=list(signers))
        assert session["status"] == "completed", (signers, session["error"])
        check_ecdsa_signature(key, hashlib.sha256(message).digest(), session["signature"])


def test_reshare_refuses_bad_requests_and_starts_nothing(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        key_id = key["key_id"]
        cases = [
            ({"threshold": 4, "nodes": ["p1", "p2", "p3"]}, 422, "invalid_threshold"),
            ({"threshold": 2, "nodes": ["p1", "p1", "p2"]}, 422, "validation_error"),
            ({"threshold": 2, "nodes": ["p1", "p2", "nobody"]}, 422, "unknown_nodes"),
            ({"threshold": 1, "nodes": ["p1", "p2"]}, 422, "validation_error"),
            ({"threshold": 2, "nodes": ["p1", "p2"], "extra": 1}, 422, "validation_error"),
        ]
        for body, status, code in cases:
            reply = api.post(f"/v1/keys/{key_id}/reshare", json=body)
            assert reply.status_code == status and reply.json()["error"]["code"] == code, (body, reply.text)
        missing = api.post(f"/v1/keys/{uuid.uuid4()}/refresh", json={})
        assert missing.status_code == 404
        sessions = api.get("/v1/sessions", params={"key_id": key_id}).json()["sessions"]
        assert [s["operation"] for s in sessions] == ["keygen"]
        assert api.get(f"/v1/keys/{key_id}").json()["epoch"] == 0

        first = api.post(f"/v1/keys/{key_id}/refresh", json={"reason": "one"}, headers={"Idempotency-Key": "r-1"})
        again = api.post(f"/v1/keys/{key_id}/refresh", json={"reason": "one"}, headers={"Idempotency-Key": "r-1"})
        assert first.status_code == 202 and again.json()["session_id"] == first.json()["session_id"]
        other = api.post(f"/v1/keys/{key_id}/refresh", json={"reason": "two"})
        assert other.status_code == 409 and other.json()["error"]["code"] == "session_in_progress"
        done = wait_session(api, first.json()["session_id"], timeout=180)
        assert done["status"] == "completed", done["error"]


def test_concurrent_changes_of_one_key_start_one_session(stack: Stack) -> None:
    """Two refresh requests at the same moment (no Idempotency-Key): one starts, the other is 409."""
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])

    reasons = [f"at once {n}" for n in range(12)]
    ready = threading.Barrier(len(reasons))

    def request(reason: str) -> httpx.Response:
        with stack.client() as api:
            api.get("/health")  # connected before the barrier
            ready.wait()
            return api.post(f"/v1/keys/{key['key_id']}/refresh", json={"reason": reason})

    with concurrent.futures.ThreadPoolExecutor(len(reasons)) as pool:
        replies = list(pool.map(request, reasons))
    started = [r for r in replies if r.status_code == 202]
    assert len(started) == 1, [r.text for r in replies]
    assert all(r.status_code == 409 and r.json()["error"]["code"] == "session_in_progress"
               for r in replies if r is not started[0]), [r.text for r in replies]
    with stack.client() as api:
        assert wait_session(api, started[0].json()["session_id"], timeout=180)["status"] == "completed"
        assert api.get(f"/v1/keys/{key['key_id']}").json()["epoch"] == 1


async def test_taproot_refresh_voids_old_nonces_and_intents(stack: Stack, client: Client, probe: str) -> None:
    def before() -> tuple[dict[str, Any], dict[str, Any]]:
        with stack.client() as api:
            key = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"])
            nodes = {n["node_id"]: n for n in api.get("/v1/nodes").json()["nodes"]}
            return key, nodes

    key, nodes = await asyncio.to_thread(before)
    key_id = key["key_id"]
    # A nonce committed (and a sign intent issued) at epoch 0, before the refresh.
    made = await run_probe(client, probe, [ProbeCall(
        "participant.frost_preprocess", participant_task_queue(n),
        asdict(PreprocessRequest(f"before-refresh-{uuid.uuid4()}", key_id, 1))) for n in ("p1", "p2")])
    assert all(a.ok for a in made), [a.message for a in made]
    commitments = [asdict(WireMessage(**a.result["commitments"][0])) for a in made]
    digest = hashlib.sha256(b"signed with a nonce of the old epoch").hexdigest()

    def refresh() -> None:
        with stack.client() as api:
            change(api, key_id, "refresh", reason="proactive")
            after = api.get(f"/v1/keys/{key_id}").json()
            assert (after["public_key"], after["address"], after["epoch"]) == (key["public_key"], key["address"], 1)
            signs_with_every_subset(api, key, ["p1", "p2", "p3"], 2)
            for node in ("p1", "p2", "p3"):
                assert held_epochs(stack, node, key_id) == ["epoch-1.share"]

    await asyncio.to_thread(refresh)
    signers = [Party(n, i, nodes[n]["signing_public_key"], nodes[n]["encryption_public_key"])
               for i, n in ((1, "p1"), (2, "p2"))]
    for epoch, code in ((1, "nonce_stale"), (0, "intent_mismatch")):
        intent = asdict(mint(stack, make_intent(operation="sign", key_id=key_id, epoch=epoch,
                                                details=sign_details(digest, ["p1", "p2"]))))
        request = {"session_id": f"stale-{uuid.uuid4()}", "key_id": key_id, "digest": digest, "taproot_tweak": True,
                   "signers": [asdict(s) for s in signers], "commitments": commitments, "intent": intent}
        answers = await run_probe(client, probe, [ProbeCall("participant.frost_sign", participant_task_queue(n),
                                                            request) for n in ("p1", "p2")])
        for answer in answers:
            assert not answer.ok, answer
            assert answer.error_code in (code, "unauthorized" if epoch == 0 else code), answer.message


class CheatingDealer(ParticipantRounds):
    """Deals honestly except that every reshare sub-share it sends is off by one (SECURITY.md C4)."""

    def _run_round(self, spec, request, roster, intent):  # type: ignore[no-untyped-def]
        honest_seal = participant_rounds.seal_outbound

        def tampered(services, roster, *, ssid, protocol, messages):  # type: ignore[no-untyped-def]
            group = get_ciphersuite(request.params.curve).group
            changed = [RoundMessage(m.sender, m.recipient, m.round, m.kind,
                                    group.serialize_scalar((group.deserialize_scalar(m.payload) + 1) % group.order))
                       if m.kind == "frost/reshare/share" else m for m in messages]
            return honest_seal(services, roster, ssid=ssid, protocol=protocol, messages=changed)

        participant_rounds.seal_outbound = tampered
        try:
            return super()._run_round(spec, request, roster, intent)
        finally:
            participant_rounds.seal_outbound = honest_seal


@pytest.fixture
async def cheating_dealer(stack: Stack, node_tokens, openbao_server, tmp_path: Path) -> AsyncIterator[str]:
    openbao_server.ensure_transit_key(f"mpc-{CHEAT}")
    settings = load_settings(node_id=CHEAT, node_type="participant", vault_addr=stack.env["VAULT_ADDR"],
                             vault_token=stack.env["VAULT_TOKEN"])
    wrapper = VaultTransitWrapper(stack.env["VAULT_ADDR"], stack.env["VAULT_TOKEN"], f"mpc-{CHEAT}")
    node = NodeContext.open_at(CHEAT, tmp_path / CHEAT, wrapper, settings=settings)
    honest = participant_activity_list(node.services)
    cheat = CheatingDealer(node.services)
    activities = [a for a in honest if getattr(a, "__name__", "") != "protocol_round"] + [cheat.protocol_round]
    public = node.identity_public()
    registrar = Registrar(api_url=stack.api_url, api_token=node_tokens(CHEAT), node_id=CHEAT,
                          signing_public_key=public.ed25519, encryption_public_key=public.x25519, sign=node.sign,
                          capabilities=node.capabilities())
    client = await connect(stack.env["TEMPORAL_ADDRESS"], "default", load_settings(
        payload_codec_key=stack.env["PAYLOAD_CODEC_KEY"]).payload_codec())
    stop = asyncio.Event()
    async with Worker(client, task_queue=participant_task_queue(CHEAT), activities=activities):
        beats = asyncio.create_task(registrar.run(0.5, stop))
        try:
            await asyncio.to_thread(stack.admit, [CHEAT])
            await asyncio.to_thread(stack.wait_online, [CHEAT])
            yield CHEAT
        finally:
            stop.set()
            await beats


async def test_cheating_dealer_is_named_and_the_key_keeps_its_epoch(stack: Stack, cheating_dealer: str) -> None:
    def scenario() -> None:
        with stack.client() as api:
            # The cheater is party 1, so it is among the t dealers the API picks (the first online by party id).
            key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2,
                             nodes=[cheating_dealer, "p1", "p2"])
            key_id = key["key_id"]
            reply = api.post(f"/v1/keys/{key_id}/reshare?wait=true",
                             json={"threshold": 2, "nodes": ["p1", "p2", "p4"]}, timeout=300)
            assert reply.status_code == 200, reply.text
            failed = reply.json()
            assert failed["status"] == "failed"
            assert failed["error"]["node"] == cheating_dealer, failed["error"]
            after = api.get(f"/v1/keys/{key_id}").json()
            assert after["epoch"] == 0 and after["status"] == "active"
            assert sorted(after["participants"]) == sorted([cheating_dealer, "p1", "p2"])
            signs_with_every_subset(api, key, ["p1", "p2"], 2)
            assert held_epochs(stack, "p4", key_id) == []  # the receiver stored nothing it could activate

    await asyncio.to_thread(scenario)



async def test_scheduled_refresh_runs_on_a_temporal_schedule(stack: Stack, client: Client) -> None:
    def schedule() -> dict[str, Any]:
        with stack.client() as api:
            key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
            for every in ("soon", "0s", "100ms"):
                bad = api.put(f"/v1/keys/{key['key_id']}/refresh-schedule", json={"every": every})
                assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_value", bad.text
            first = api.put(f"/v1/keys/{key['key_id']}/refresh-schedule", json={"every": "1h"})
            assert first.status_code == 200, first.text
            reply = api.put(f"/v1/keys/{key['key_id']}/refresh-schedule", json={"every": "2s"})  # an update
            assert reply.status_code == 200, reply.text
            assert reply.json() == {"key_id": key["key_id"], "schedule_id": f"refresh-{key['key_id']}",
                                    "every_seconds": 2.0}
            return key

    key = await asyncio.to_thread(schedule)
    key_id = key["key_id"]
    handle = client.get_schedule_handle(f"refresh-{key_id}")
    described = await handle.describe()
    assert described.schedule.spec.intervals[0].every.total_seconds() == 2

    def refreshed() -> None:
        with stack.client() as api:
            for _ in range(300):
                if api.get(f"/v1/keys/{key_id}").json()["epoch"] >= 1:
                    break
                time.sleep(0.3)
            off = api.put(f"/v1/keys/{key_id}/refresh-schedule", json={"every": None})
            assert off.status_code == 200 and off.json()["schedule_id"] is None
            after = api.get(f"/v1/keys/{key_id}").json()
            assert after["epoch"] >= 1 and after["public_key"] == key["public_key"]
            # The epoch moves at the commit point; the session completes after activation and erasure.
            sessions = api.get("/v1/sessions", params={"key_id": key_id, "limit": 50}).json()["sessions"]
            ended = [wait_session(api, s["session_id"]) for s in sessions if s["operation"] == "refresh"]
            assert all(s["status"] in ("completed", "failed") for s in ended)
            assert any(s["status"] == "completed" for s in ended), sessions
            signs_with_every_subset(api, key, ["p1", "p2", "p3"], 2)
            audit = api.get("/v1/audit-logs", params={"resource_id": key_id, "limit": 100}).json()["entries"]
            assert any(e["action"] == "key.refresh" and e["actor"] == "refresh-schedule" for e in audit)

    await asyncio.to_thread(refreshed)
    with pytest.raises(RPCError):
        await handle.describe()  # removed

    def create_with_schedule() -> str:
        with stack.client() as api:
            bad = api.post("/v1/keys", json={"protocol": "frost", "chain_type": "ed25519", "threshold": 2,
                                             "nodes": ["p1", "p2", "p3"], "refresh_every": "often"})
            assert bad.status_code == 422, bad.text
            made = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"],
                              refresh_every="1h")
            return str(made["key_id"])

    daily = await asyncio.to_thread(create_with_schedule)
    daily_handle = client.get_schedule_handle(f"refresh-{daily}")
    assert (await daily_handle.describe()).schedule.spec.intervals[0].every.total_seconds() == 3600
    await daily_handle.delete()
