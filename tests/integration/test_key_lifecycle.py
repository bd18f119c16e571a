"""Disable / enable (issue 10 part 4, key lifecycle): enforced by every holder, not only by the API.

A disabled key is refused by the API (409) and, for whoever drives Temporal with a valid sign
intent, by each node (`key_disabled`); enabling it again needs every holder; an older key-state
intent cannot undo a newer one.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict
from typing import Any

import httpx
from temporalio.client import Client

from mpc.queues import participant_task_queue
from tests.integration.attacker import run_probe
from tests.integration.helpers import check_signature, create_key, sign, wait_session
from tests.integration.intents import make_intent, mint, sign_details
from tests.integration.probe import ProbeCall
from tests.stack import Stack
from workflows.types import KeyStateCall, Party, PreprocessRequest, WireMessage

HOLDERS = ["p1", "p2", "p3"]


def change(api: httpx.Client, key_id: str, action: str) -> dict[str, Any]:
    started = api.post(f"/v1/keys/{key_id}/{action}", json={"reason": "test"})
    assert started.status_code == 202, started.text
    done = wait_session(api, started.json()["session_id"])
    assert done["status"] == "completed", done["error"]
    assert done["operation"] == action
    return done


async def test_disable_is_enforced_by_the_nodes(stack: Stack, client: Client, probe: str) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=HOLDERS)
        key_id = key["key_id"]
        change(api, key_id, "disable")
        assert api.get(f"/v1/keys/{key_id}").json()["status"] == "disabled"
        refused = api.post(f"/v1/keys/{key_id}/sign", json={"digest": "ab" * 32})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "key_not_active"
        again = api.post(f"/v1/keys/{key_id}/disable", json={})
        assert again.status_code == 409 and again.json()["error"]["code"] == "key_not_active"
        nodes = {n["node_id"]: n for n in api.get("/v1/nodes").json()["nodes"]}

    # Whoever drives Temporal, with a valid API sign intent: every signer refuses a disabled key.
    signers = [Party(n, i, nodes[n]["signing_public_key"], nodes[n]["encryption_public_key"])
               for i, n in ((1, "p1"), (2, "p2"))]
    pre = [ProbeCall("participant.frost_preprocess", participant_task_queue(n),
                     asdict(PreprocessRequest(f"lifecycle-{uuid.uuid4()}", key_id, 1))) for n in ("p1", "p2")]
    made = await run_probe(client, probe, pre)
    assert all(a.ok for a in made), [a.message for a in made]
    commitments = [asdict(WireMessage(**a.result["commitments"][0])) for a in made]
    digest = hashlib.sha256(b"signed while disabled").hexdigest()
    intent = asdict(mint(stack, make_intent(operation="sign", key_id=key_id,
                                            details=sign_details(digest, ["p1", "p2"]))))
    request = {"session_id": f"disabled-{uuid.uuid4()}", "key_id": key_id, "digest": digest,
               "signers": [asdict(s) for s in signers], "commitments": commitments, "intent": intent}
    hello = {"session_id": f"disabled-{uuid.uuid4()}", "workflow_id": "attacker", "protocol": "gg18-sign",
             "parties": [asdict(s) for s in signers], "intent": intent,
             "params": {"key_id": key_id, "curve": "secp256k1", "digest": digest, "threshold": 2}}
    answers = await run_probe(client, probe, [
        ProbeCall("participant.frost_sign", participant_task_queue("p1"), request),
        ProbeCall("participant.frost_sign", participant_task_queue("p2"), request),
        ProbeCall("participant.session_hello", participant_task_queue("p1"), hello)])
    for answer in answers:
        assert not answer.ok and answer.error_code == "key_disabled", answer.message

    # A key-state intent older than the applied one cannot undo it (a replayed `enable`).
    # Still valid (60 s), but it expires before the applied disable intent (INTENT_TTL, 15 min): older.
    stale = mint(stack, make_intent(operation="enable", key_id=key_id, details={"holders": HOLDERS}, ttl=60))
    replay = await run_probe(client, probe, [ProbeCall(
        "participant.set_key_state", participant_task_queue("p1"),
        asdict(KeyStateCall(f"replay-{uuid.uuid4()}", key_id, True, stale)))])
    assert not replay[0].ok and replay[0].error_code == "intent_reused", replay[0].message

    stack.wait_online(HOLDERS)  # enable needs every holder online
    with stack.client() as api:
        change(api, key_id, "enable")
        assert api.get(f"/v1/keys/{key_id}").json()["status"] == "active"
        signed = sign(api, key_id, b"enabled again")
        assert signed["status"] == "completed", signed["error"]
        check_signature(key, signed["message_hash"], signed["signature"])
        refused = api.post(f"/v1/keys/{key_id}/enable", json={})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "key_not_disabled"
        epochs = api.get(f"/v1/keys/{key_id}/epochs").json()
        assert epochs["epochs"] == [{"epoch": 0, "holders": HOLDERS, "threshold": 2, "reason": "keygen",
                                     "active": True, "created": epochs["epochs"][0]["created"]}]
        audit = api.get("/v1/audit-logs", params={"resource_id": key_id}).json()["entries"]
        actions = {e["action"] for e in audit}
        assert {"key.disable", "key.enable", "key.disable_request", "key.enable_request"} <= actions


def test_unknown_key_and_bad_body(stack: Stack) -> None:
    with stack.client() as api:
        missing = api.post(f"/v1/keys/{uuid.uuid4()}/disable", json={})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "key_not_found"
        bad = api.post(f"/v1/keys/{uuid.uuid4()}/disable", json={"reason": "x", "extra": 1})
        assert bad.status_code == 422


def test_sessions_by_state_counts_sessions_nobody_waited_for(stack: Stack) -> None:
    """Issue 12 part 6 (the gauge): the lifecycle sessions above were polled, never `?wait=true`."""
    with stack.client() as api:
        completed = api.get("/v1/sessions", params={"status": "completed", "limit": 1}).json()["total"]
        text = httpx.get(f"{stack.api_url}/metrics", timeout=10).text
    values = {line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
              for line in text.splitlines() if line.startswith("mpc_sessions_by_state{")}
    assert values['status="completed"'] >= completed > 0
    assert 'status="awaiting_approval"' in values and 'status="failed"' in values


def test_archive_erases_every_share_and_keeps_the_address(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=HOLDERS)
        key_id = key["key_id"]
        sign(api, key_id, b"before the archive")
        started = api.delete(f"/v1/keys/{key_id}", headers={"Idempotency-Key": f"archive-{key_id}"})
        assert started.status_code == 202, started.text
        done = wait_session(api, started.json()["session_id"])
        assert done["status"] == "completed" and done["operation"] == "archive", done["error"]
        archived = api.get(f"/v1/keys/{key_id}").json()
        assert archived["status"] == "archived"
        assert (archived["public_key"], archived["address"]) == (key["public_key"], key["address"])
        for node in HOLDERS:
            folder = stack.data_dir / node / "keys" / key_id
            assert not list(folder.glob("epoch-*")), node  # every epoch's share and meta erased
        refused = api.post(f"/v1/keys/{key_id}/sign", json={"digest": "ab" * 32})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "key_not_active"
        enable = api.post(f"/v1/keys/{key_id}/enable", json={})
        assert enable.status_code == 409 and enable.json()["error"]["code"] == "key_not_disabled"
        audit = api.get("/v1/audit-logs", params={"resource_id": key_id, "limit": 100}).json()["entries"]
        assert any(e["action"] == "key.archive" and e["status"] == "success" for e in audit)
        missing = api.delete("/v1/keys/no-such-key")
        assert missing.status_code == 404
