"""A participant that sends a validly signed but wrong signature share (SECURITY.md table row 16).

The session must end non-retryable with the culprit named, the key flagged so nobody keeps
signing with a cheater in the committee, and no automatic retry around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.frost_signing import FrostSigning
from activities.gg20_online import Gg20Online
from activities.node_services import NodeServices
from mpc.codec import ENCODING
from mpc.envelope import Envelope, seal
from mpc.keystore import VaultTransitWrapper
from mpc.queues import participant_task_queue
from mpc.settings import load_settings
from mpc.temporal_client import connect
from tests.integration.helpers import create_key, wait_session
from tests.integration.test_presign_pool import wait_for_pool
from tests.services import free_port, start_api
from tests.stack import PREPARAMS_FIXTURE, Stack
from tss.ecdsa.curve import Q as ORDER
from tss.frost import SignatureShare, get_ciphersuite
from workers.node_context import NodeContext
from workers.registration import Registrar
from workers.registry import participant_activity_list

EVIL = "evil1"


class CheatingSigning(FrostSigning):
    """Computes the honest share, then adds 1 to z and signs the result with its real identity."""

    def _make_share(self, request, roster) -> bytes:
        honest = json.loads(super()._make_share(request, roster))
        envelope = Envelope.from_dict(json.loads(honest["body"]))
        suite = get_ciphersuite("ed25519")
        share = SignatureShare.from_bytes(suite, envelope.payload_bytes())
        bad = SignatureShare(share.identifier, (share.share + 1) % suite.group.order)
        forged = seal(self.services.identity, ssid=bytes.fromhex(envelope.ssid), protocol=envelope.protocol,
                      round=envelope.round, kind=envelope.kind, payload=bad.to_bytes(suite))
        return json.dumps({**honest, "body": json.dumps(forged.to_dict())}).encode()


@contextlib.asynccontextmanager
async def evil_worker(stack: Stack, node_tokens: Any, openbao_server: Any, folder: Path,
                      swap: Callable[[NodeServices], dict[str, Callable[..., Any]]],
                      evil: str = EVIL) -> AsyncIterator[str]:
    """A participant `evil` of the stack, admitted and online, whose activities named in `swap` cheat."""
    openbao_server.ensure_transit_key(f"mpc-{evil}")
    settings = load_settings(node_id=evil, node_type="participant", vault_addr=stack.env["VAULT_ADDR"],
                             vault_token=stack.env["VAULT_TOKEN"])
    wrapper = VaultTransitWrapper(stack.env["VAULT_ADDR"], stack.env["VAULT_TOKEN"], f"mpc-{evil}")
    # One committed pre-parameter set, so a GG20 keygen with it never generates primes.
    (folder / evil).mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / evil / "preparams.jsonl").write_text(PREPARAMS_FIXTURE.read_text().splitlines()[-1] + "\n")
    node = NodeContext.open_at(evil, folder / evil, wrapper, settings=settings)
    cheats = swap(node.services)
    activities = [cheats.get(getattr(a, "__name__", ""), a) for a in participant_activity_list(node.services)]
    public = node.identity_public()
    registrar = Registrar(api_url=stack.api_url, api_token=node_tokens(evil), node_id=evil,
                          signing_public_key=public.ed25519, encryption_public_key=public.x25519, sign=node.sign,
                          capabilities=node.capabilities())
    client = await connect(stack.env["TEMPORAL_ADDRESS"], "default", load_settings(
        payload_codec_key=stack.env["PAYLOAD_CODEC_KEY"]).payload_codec())
    stop = asyncio.Event()
    async with Worker(client, task_queue=participant_task_queue(evil), activities=activities):
        beats = asyncio.create_task(registrar.run(0.5, stop))
        try:
            await asyncio.to_thread(stack.admit, [evil])
            await asyncio.to_thread(stack.wait_online, [evil])
            yield evil
        finally:
            stop.set()
            await beats


@pytest.fixture
async def evil_node(stack: Stack, node_tokens, openbao_server, tmp_path: Path) -> AsyncIterator[str]:
    async with evil_worker(stack, node_tokens, openbao_server, tmp_path,
                           lambda services: {"sign_share": CheatingSigning(services).sign_share}) as evil:
        yield evil


async def test_bad_share_names_the_cheater_and_flags_the_key(stack: Stack, evil_node: str) -> None:
    def scenario() -> str:
        with stack.client() as api:
            key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", evil_node])
            digest = hashlib.sha256(b"cheat").hexdigest()
            started = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest, "signers": ["p1", evil_node]})
            assert started.status_code == 202, started.text
            session = wait_session(api, started.json()["session_id"])
            assert session["status"] == "failed"
            assert session["error"]["code"] == "invalid_signature_share"
            assert session["error"]["node"] == evil_node and session["signature"] is None
            assert api.get(f"/v1/keys/{key['key_id']}").json()["status"] == "flagged"
            refused = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest, "signers": ["p1", "p2"]})
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "key_not_active"
            audit = api.get("/v1/audit-logs", params={"session_id": session["session_id"]}).json()["entries"]
            failure = next(e for e in audit if e["action"] == "key.sign" and e["status"] == "failure")
            assert failure["details"]["node"] == evil_node and failure["details"]["flagged"] is True
            # No automatic retry around a cheater: exactly one share round was attempted.
            assert not any(e["action"] == "sign.replace_signer" for e in audit)
            return session["workflow_id"]

    workflow_id = await asyncio.to_thread(scenario)
    # The failure stored in Temporal's history is encoded too (SECURITY.md S4): no plain message or trace.
    raw = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    history = await raw.get_workflow_handle(workflow_id).fetch_history()
    failed = [e for e in history.events if e.HasField("workflow_execution_failed_event_attributes")]
    assert len(failed) == 1
    failure = failed[0].workflow_execution_failed_event_attributes.failure
    assert failure.message == "Encoded failure" and not failure.stack_trace
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert all(b"invalid_signature_share" not in e.SerializeToString() for e in history.events)




class CheatingOnline(Gg20Online):
    """GG20 from a pooled presignature: consumes it honestly, then answers s_i + 1, signed with its real key."""

    def _answer(self, request, roster) -> bytes:
        honest = json.loads(super()._answer(request, roster))
        envelope = Envelope.from_dict(json.loads(honest["body"]))
        body = json.loads(envelope.payload_bytes())
        body["s"] = f"{(int(body['s'], 16) + 1) % ORDER:064x}"
        forged = seal(self.services.identity, ssid=bytes.fromhex(envelope.ssid), protocol=envelope.protocol,
                      round=envelope.round, kind=envelope.kind, payload=json.dumps(body, sort_keys=True).encode())
        return json.dumps({**honest, "body": json.dumps(forged.to_dict())}).encode()


async def test_pooled_gg20_bad_share_is_named_by_the_coordinator(stack: Stack, node_tokens, openbao_server,
                                                                  migrated_db: str, tmp_path: Path) -> None:
    """The one-round GG20 path combines on the coordinator, from the pool's public R̄_j and S_j: a wrong s_i
    is named there, the session fails without retry and the key is flagged, as in every protocol."""
    process, url = start_api({**stack.env, "PRESIGN_POOL_TARGET": "1", "GRPC_PORT": str(free_port())},
                             stack.log_dir, name="api-presign-evil")
    try:
        async with evil_worker(stack, node_tokens, openbao_server, tmp_path,
                               lambda services: {"sign": CheatingOnline(services).sign}, "evil2") as evil:
            def scenario() -> None:
                with httpx.Client(base_url=url, headers=stack.headers, timeout=240) as api:
                    # The first t holders by party id (p1 and the cheater) get a pool at keygen.
                    key = create_key(api, protocol="gg20", chain_type="ethereum", threshold=2,
                                     nodes=["p1", evil, "p2"])
                    assert wait_for_pool(migrated_db, key["key_id"], epoch=0, want=1)
                    digest = hashlib.sha256(b"cheat from the pool").hexdigest()
                    started = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest,
                                                                                "signers": ["p1", evil]})
                    assert started.status_code == 202, started.text
                    session = wait_session(api, started.json()["session_id"])
                    assert session["status"] == "failed", session
                    assert session["error"]["code"] == "bad_signature_share"
                    assert session["error"]["node"] == evil and session["signature"] is None
                    assert api.get(f"/v1/keys/{key['key_id']}").json()["status"] == "flagged"
                    audit = api.get("/v1/audit-logs", params={"session_id": session["session_id"]}).json()["entries"]
                    assert not any(e["action"] == "sign.replace_signer" for e in audit)

            await asyncio.to_thread(scenario)
    finally:
        process.stop()


class CheatingOnlineBatch(Gg20Online):
    """A GG20 batch from the pool: consumes every presignature honestly, then answers the first digest's
    s_i + 1, signed with its real key; the other digests' answers are honest."""

    def _answer_batch(self, request, roster) -> bytes:
        answers = json.loads(super()._answer_batch(request, roster))
        envelope = Envelope.from_dict(json.loads(answers[0]["body"]))
        body = json.loads(envelope.payload_bytes())
        body["s"] = f"{(int(body['s'], 16) + 1) % ORDER:064x}"
        forged = seal(self.services.identity, ssid=bytes.fromhex(envelope.ssid), protocol=envelope.protocol,
                      round=envelope.round, kind=envelope.kind, payload=json.dumps(body, sort_keys=True).encode())
        answers[0] = {**answers[0], "body": json.dumps(forged.to_dict())}
        return json.dumps(answers).encode()


async def test_pooled_gg20_batch_bad_share_is_named_and_nothing_is_released(
        stack: Stack, node_tokens, openbao_server, migrated_db: str, tmp_path: Path) -> None:
    """One wrong s_i among a batch's answers: the finishing step names its signer, the session fails without
    retry, the key is flagged, and no signature of the batch is released (not even the honest ones)."""
    process, url = start_api({**stack.env, "PRESIGN_POOL_TARGET": "2", "GRPC_PORT": str(free_port())},
                             stack.log_dir, name="api-presign-batch-evil")
    try:
        def cheats(services: NodeServices) -> dict[str, Callable[..., Any]]:
            return {"sign_online_batch": CheatingOnlineBatch(services).sign_online_batch}

        async with evil_worker(stack, node_tokens, openbao_server, tmp_path, cheats, "evil3") as evil:
            def scenario() -> None:
                with httpx.Client(base_url=url, headers=stack.headers, timeout=240) as api:
                    key = create_key(api, protocol="gg20", chain_type="ethereum", threshold=2,
                                     nodes=["p1", evil, "p2"])
                    assert len(wait_for_pool(migrated_db, key["key_id"], epoch=0, want=2)) == 2
                    digests = [hashlib.sha256(f"cheat in a batch {i}".encode()).hexdigest() for i in range(2)]
                    started = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digests": digests})
                    assert started.status_code == 202, started.text
                    session = wait_session(api, started.json()["session_id"])
                    assert session["status"] == "failed", session
                    assert session["error"]["code"] == "bad_signature_share"
                    assert session["error"]["node"] == evil
                    assert session["signature"] is None and not session["signatures"]
                    assert api.get(f"/v1/keys/{key['key_id']}").json()["status"] == "flagged"

            await asyncio.to_thread(scenario)
    finally:
        process.stop()
