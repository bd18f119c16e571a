"""DESIGN.md's safety rules, each checked on the real stack.

1. secrets never in workflow history; 2. idempotent rounds; 3. single-use nonces;
4. payload codec on every payload (and on failures); 5. a failing node is named.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from typing import Any

import pytest
from google.protobuf.message import Message
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.worker import Worker

from mpc.codec import ENCODING, EncryptionCodec
from mpc.db import SigningSession, create_engine, session_factory
from mpc.envelope import Envelope, open_envelope
from mpc.identity import NodeIdentity
from mpc.keystore import SecretStateStore, ShareStore, VaultTransitWrapper
from mpc.queues import participant_task_queue
from mpc.temporal_client import connect
from tests.integration.helpers import create_key, sign, wait_session
from tests.integration.intents import make_intent, mint, sign_details
from tests.integration.probe import ProbeCall, ProbeInput, ProbeOutput, ProbeWorkflow
from tests.services import _run_coroutine
from tests.stack import Stack
from tss.frost import KeyShare
from workflows.types import FrostSignRequest, Party, PreprocessRequest, WireMessage

# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def client(stack: Stack) -> Client:
    return await connect(stack.env["TEMPORAL_ADDRESS"], "default",
                         EncryptionCodec.from_hex([stack.env["PAYLOAD_CODEC_KEY"]]))


@pytest.fixture(scope="module")
async def raw_client(stack: Stack) -> Client:
    """No codec: sees what Temporal stores."""
    return await Client.connect(stack.env["TEMPORAL_ADDRESS"])


@pytest.fixture(scope="module")
async def probe(client: Client) -> AsyncIterator[str]:
    queue = f"test-probe-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[ProbeWorkflow]):
        yield queue


def node_stores(stack: Stack, node_id: str) -> tuple[ShareStore, SecretStateStore, NodeIdentity]:
    wrapper = VaultTransitWrapper(stack.env["VAULT_ADDR"], stack.env["VAULT_TOKEN"], f"mpc-{node_id}")
    root = stack.data_dir / node_id
    state = SecretStateStore(root / "state", wrapper, node_id)
    return ShareStore(root / "keys", wrapper, node_id), state, NodeIdentity.load_or_create(state, node_id)


async def run_probe(client: Client, queue: str, calls: list[ProbeCall]) -> ProbeOutput:
    return await client.execute_workflow(ProbeWorkflow.run, ProbeInput(calls), id=f"probe-{uuid.uuid4()}",
                                         task_queue=queue, result_type=ProbeOutput)


def workflow_ids(stack: Stack, key_id: str) -> list[str]:
    async def read() -> list[str]:
        engine = create_engine(stack_db_url(stack), pool_size=1)
        try:
            async with session_factory(engine)() as db:
                rows = (await db.execute(select(SigningSession.workflow_id).where(SigningSession.key_id == key_id)))
                return [r[0] for r in rows]
        finally:
            await engine.dispose()

    return _run_coroutine(read())


def stack_db_url(stack: Stack) -> str:
    env = stack.env
    return f"postgresql+asyncpg://{env['DB_USER']}@{env['DB_HOST']}:{env['DB_PORT']}/{env['DB_NAME']}"


def payloads_of(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere inside a protobuf message (history events nest them deeply), with its path."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field_descriptor, value in message.ListFields():
        name = f"{path}.{field_descriptor.name}"
        if field_descriptor.message_type is not None and field_descriptor.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from payloads_of(item, f"{name}[{key}]")
        elif field_descriptor.is_repeated:
            for item in value:
                if isinstance(item, Message):
                    yield from payloads_of(item, name)
        elif isinstance(value, Message):
            yield from payloads_of(value, name)


LOCAL_ACTIVITY_MARKER_FIELDS = {"seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff",
                                "original_schedule_time", "activation_index"}


PATCH_MARKER_FIELDS = {"id", "deprecated"}


def is_sdk_marker_metadata(where: str, payload: Payload) -> bool:
    """The SDK records a local activity's bookkeeping (ids, attempt, times) and a `workflow.patched` marker
    (the patch id) unencoded; a local activity's result is encoded."""
    if where.endswith("marker_recorded_event_attributes.details[patch-data].payloads"):
        return set(json.loads(payload.data)) <= PATCH_MARKER_FIELDS
    if not where.endswith("marker_recorded_event_attributes.details[data].payloads"):
        return False
    return set(json.loads(payload.data)) <= LOCAL_ACTIVITY_MARKER_FIELDS


async def history_payloads(raw_client: Client, workflow_id: str) -> list[tuple[str, Payload]]:
    history = await raw_client.get_workflow_handle(workflow_id).fetch_history()
    return [(f"{event.event_type}{path}", p) for event in history.events for path, p in payloads_of(event)]


def text_forms(secret: bytes) -> list[bytes]:
    return [secret, secret.hex().encode(), base64.b64encode(secret), str(int.from_bytes(secret, "big")).encode()]


# ---- rules 1 and 4 -----------------------------------------------------------------------------------


async def test_history_is_encrypted_and_holds_no_secret(stack: Stack, raw_client: Client) -> None:
    with stack.client() as api:
        key = create_key(api, curve="secp256k1", chain_type="schnorr", threshold=2, nodes=["p1", "p2", "p3"])
        sign(api, key["key_id"], b"history check")
    ids = [*workflow_ids(stack, key["key_id"]), f"nonce-pool-{key['key_id']}"]
    codec = EncryptionCodec.from_hex([stack.env["PAYLOAD_CODEC_KEY"]])
    decoded_blob = b""
    envelopes: list[Envelope] = []
    count = 0
    for workflow_id in ids:
        payloads = await history_payloads(raw_client, workflow_id)
        assert payloads, workflow_id
        for where, payload in payloads:
            if ".search_attributes." in where:
                continue  # indexed by Temporal, so never encoded: public values only (key id, curve, status...)
            if is_sdk_marker_metadata(where, payload):
                continue
            count += 1
            assert payload.metadata.get("encoding") == ENCODING, (
                f"unencrypted payload in {workflow_id}: {where}: {payload.data!r}")
            (plain,) = await codec.decode([payload])
            decoded_blob += plain.data + b"\n"
            envelopes += _envelopes_in(plain.data)
    assert count > 20

    # Canaries: every node's key share, in every encoding, appears nowhere in the decoded history.
    for node in ("p1", "p2", "p3"):
        shares, _, _ = node_stores(stack, node)
        share = KeyShare.from_bytes(shares.get_share(key["key_id"]))
        secret = share.signing_share.to_bytes(32, "big")
        for form in (*text_forms(secret), *text_forms(secret[::-1])):
            assert form not in decoded_blob

    # Point-to-point payloads are ciphertext: their plaintext (opened by the recipient) is absent.
    p2p = [e for e in envelopes if e.recipient != "*"]
    assert len(p2p) >= 6  # DKG: each of 3 parties sends a share to 2 others
    for envelope in p2p:
        _, _, identity = node_stores(stack, envelope.recipient)
        plain = open_envelope(envelope, identity, bytes.fromhex(_party_key(stack, envelope.sender)),
                              ssid=envelope.ssid, protocol=envelope.protocol, round=envelope.round)
        for form in text_forms(plain):
            assert form not in decoded_blob


def _party_key(stack: Stack, node_id: str) -> str:
    with stack.client() as api:
        return api.get(f"/v1/nodes/{node_id}").json()["signing_public_key"]


def _envelopes_in(data: bytes) -> list[Envelope]:
    """Find serialised envelopes inside a decoded JSON payload."""
    found: list[Envelope] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "body" in value and "sender" in value and isinstance(value["body"], str):
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found.append(Envelope.from_dict(json.loads(value["body"])))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    with contextlib.suppress(ValueError):
        walk(json.loads(data))
    return found


# ---- rules 2 and 3 -----------------------------------------------------------------------------------


async def test_retry_returns_same_output_and_nonce_is_single_use(stack: Stack, client: Client, probe: str) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        nodes = {n["node_id"]: n for n in api.get("/v1/nodes").json()["nodes"]}
    parties = [Party(n, i, nodes[n]["signing_public_key"], nodes[n]["encryption_public_key"])
               for i, n in ((1, "p1"), (2, "p2"))]
    q1, q2 = participant_task_queue("p1"), participant_task_queue("p2")

    request_id = f"probe-{uuid.uuid4()}"
    pre = asdict(PreprocessRequest(request_id=request_id, key_id=key["key_id"], count=1))
    out = await run_probe(client, probe, [
        ProbeCall("participant.frost_preprocess", q1, pre),
        ProbeCall("participant.frost_preprocess", q1, pre),  # a retry: byte-identical input
        ProbeCall("participant.frost_preprocess", q1, {**pre, "count": 2}),  # same request, other input
        ProbeCall("participant.frost_preprocess", q2, asdict(PreprocessRequest(f"{request_id}-2", key["key_id"], 1))),
    ])
    first, retry, changed, other = out.answers
    assert first.ok and retry.ok and first.result == retry.result  # no fresh randomness on retry
    assert not changed.ok and changed.error_code == "round_input_changed"
    commitments = [WireMessage(**first.result["commitments"][0]), WireMessage(**other.result["commitments"][0])]

    session = f"probe-sign-{uuid.uuid4()}"
    digest = hashlib.sha256(b"one nonce, one message").hexdigest()
    intent = mint(stack, make_intent(operation="sign", key_id=key["key_id"],
                                     details=sign_details(digest, ["p1", "p2"])))
    signing = asdict(FrostSignRequest(session_id=session, key_id=key["key_id"], digest=digest, signers=parties,
                                      commitments=commitments, intent=intent))
    other_digest = hashlib.sha256(b"a second message").hexdigest()
    other_intent = asdict(mint(stack, make_intent(operation="sign", key_id=key["key_id"],
                                                  details=sign_details(other_digest, ["p1", "p2"]))))
    out = await run_probe(client, probe, [
        ProbeCall("participant.frost_sign", q1, signing),
        ProbeCall("participant.frost_sign", q1, signing),  # retry: the same share, the nonce is not used again
        ProbeCall("participant.frost_sign", q1, {**signing, "digest": other_digest,  # same session, other message
                                                 "intent": other_intent}),
        ProbeCall("participant.frost_sign", q1, {**signing, "session_id": f"{session}-b", "digest": other_digest,
                                                 "intent": other_intent}),
    ])
    share, share_retry, same_session_other_message, new_session_same_nonce = out.answers
    assert share.ok and share_retry.ok and share.result == share_retry.result
    assert not same_session_other_message.ok and same_session_other_message.error_code == "round_input_changed"
    assert not new_session_same_nonce.ok and new_session_same_nonce.error_code == "nonce_consumed"


# ---- rule 5 -------------------------------------------------------------------------------------------


def test_killed_signer_is_replaced_or_named(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="solana", threshold=2, nodes=["p1", "p2", "p3"])
        stack.participants["p2"].kill()
        try:
            # Both requests go in while the API still counts p2 online (its last heartbeat is recent).
            digest = hashlib.sha256(b"p2 is gone").hexdigest()
            default = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest})
            pinned = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest, "signers": ["p1", "p2"]})
            assert default.status_code == 202 and pinned.status_code == 202, (default.text, pinned.text)
            # Default signers (p1, p2) with p3 online as an alternate: p2 times out and is replaced.
            replaced = wait_session(api, default.json()["session_id"])
            assert replaced["status"] == "completed", replaced["error"]
            assert replaced["participants"] == ["p1", "p3"]  # the session names who actually signed
            # Pinned signers, no alternate: the session fails after the round timeout and names p2.
            failed = wait_session(api, pinned.json()["session_id"])
            assert failed["status"] == "failed"
            assert failed["error"]["node"] == "p2" and failed["error"]["code"] == "node_timeout"
            audit = api.get("/v1/audit-logs", params={"session_id": replaced["session_id"]}).json()["entries"]
            assert any(e["action"] == "sign.replace_signer" and e["details"]["node"] == "p2" for e in audit)
            assert api.get(f"/v1/keys/{key['key_id']}").json()["status"] == "active"  # a timeout is no cheat
        finally:
            stack.start_participant("p2")
            stack.wait_online(["p2"])
