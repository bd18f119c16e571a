"""Replay recorded workflow histories against today's workflow code.

A change that would break running workflows (non-determinism: reordered activities, new
commands) fails here. Histories were recorded from the integration stack with the test-only codec
key; record new ones with `MPC_RECORD_HISTORIES=1 ./scripts/test tests/workflows` after a
deliberate, versioned workflow change.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from mpc.codec import EncryptionCodec
from mpc.protocols import Activity
from mpc.temporal_client import data_converter
from tests.services import TEST_PAYLOAD_CODEC_KEY
from workers.registry import coordinator_workflows

HISTORIES = Path(__file__).parent / "histories"


def _replayer() -> Replayer:
    return Replayer(workflows=coordinator_workflows(),
                    data_converter=data_converter(EncryptionCodec.from_hex([TEST_PAYLOAD_CODEC_KEY])))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    await _replayer().replay_workflow(history)


def test_histories_are_recorded() -> None:
    names = {p.stem.split("-")[0] for p in HISTORIES.glob("*.json")}
    assert {"keygen", "sign", "pool", "reshare", "backup"} <= names


def _patches(events: list[dict]) -> list[str]:
    return [json.loads(base64.b64decode(payload["data"]))["id"] for e in events
            if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
            and e["markerRecordedEventAttributes"]["markerName"] == "core_patch"
            for payload in e["markerRecordedEventAttributes"]["details"]["patch-data"]["payloads"]]


def test_the_patched_backup_change_is_covered_both_ways() -> None:
    """backup-v1 was recorded before `workflow.patched(SEARCH_ATTRIBUTES_PATCH)` existed (no marker: replays on
    the old branch), backup-v2 after (the marker and the upserts: replays on the new one)."""
    from workflows.backup import SEARCH_ATTRIBUTES_PATCH

    for version, patched in (("v1", False), ("v2", True)):
        events = json.loads(next(HISTORIES.glob(f"backup-{version}-*.json")).read_text())["events"]
        patches = _patches(events)
        assert (patches == [SEARCH_ATTRIBUTES_PATCH]) is patched, (version, patches)
        upserts = [e for e in events if e["eventType"] == "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"]
        assert bool(upserts) is patched, version


def test_the_refill_moved_into_the_finishing_step_is_covered_both_ways() -> None:
    """Sign histories from before `REFILL_IN_FINISH_PATCH` start the pool refill as a child workflow (and
    replay on that branch); those recorded after carry the marker and start no child."""
    from workflows.sign import REFILL_IN_FINISH_PATCH

    kinds = set()
    for path in HISTORIES.glob("sign-*.json"):
        events = json.loads(path.read_text())["events"]
        children = [e for e in events if e["eventType"] == "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED"]
        patched = REFILL_IN_FINISH_PATCH in _patches(events)
        assert not (patched and children), path.name
        kinds.add("patched" if patched else "child" if children else "neither")
    assert {"patched", "child"} <= kinds, kinds


@pytest.mark.skipif(os.environ.get("MPC_RECORD_HISTORIES") != "1", reason="recording is a manual step")
async def test_record_histories(stack, raw_temporal_client) -> None:
    """Records one history of each coordinator workflow the stack runs: keygen, sign (pooled and not),
    the nonce pool, a reshare (2-of-3 to 2-of-3 replacing a node) and a backup. `MPC_RECORD_ONLY=a,b` limits
    it to those names. Keep older files: a history recorded before a patched change is what proves that
    running workflows of the old version still replay."""
    from tests.integration.helpers import create_key, sign, wait_session

    only = {n for n in os.environ.get("MPC_RECORD_ONLY", "").split(",") if n}
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        signed = sign(api, key["key_id"], b"recorded")
        no_pool = sign(api, key["key_id"], b"recorded, no pool", signers=["p2", "p3"])
        reshared = api.post(f"/v1/keys/{key['key_id']}/reshare?wait=true", timeout=300,
                            json={"threshold": 2, "nodes": ["p1", "p2", "p4"], "reason": "recorded"}).json()
        assert reshared["status"] == "completed", reshared
        started = api.post("/v1/backups").json()
        backup = wait_session(api, started["session_id"], timeout=180)
        assert backup["status"] == "completed", backup
    HISTORIES.mkdir(exist_ok=True)
    for name, workflow_id in (("keygen", api_workflow(stack, key["key_id"], "keygen")),
                              ("sign", signed["workflow_id"]), ("sign-2", no_pool["workflow_id"]),
                              ("pool", f"nonce-pool-{key['key_id']}"), ("reshare", reshared["workflow_id"]),
                              ("backup", backup["workflow_id"])):
        if only and name not in only:
            continue
        history = await raw_temporal_client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / f"{name}-{workflow_id[:40]}.json").write_text(history.to_json())


def api_workflow(stack, key_id: str, operation: str) -> str:
    with stack.client() as api:
        sessions = api.get("/v1/sessions", params={"key_id": key_id}).json()["sessions"]
    return next(s["workflow_id"] for s in sessions if s["operation"] == operation)


def test_the_gg20_batch_change_is_covered() -> None:
    """A GG20 batch from the presignature pool (`GG20_BATCH_PATCH`): the history carries the marker and one
    batched online activity per signer; sign histories recorded before it carry no such marker."""
    from workflows.sign import GG20_BATCH_PATCH

    batches = 0
    for path in HISTORIES.glob("sign-*.json"):
        events = json.loads(path.read_text())["events"]
        online = [e for e in events if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
                  and e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
                  == "participant.gg20_sign_online_batch"]
        patched = GG20_BATCH_PATCH in _patches(events)
        assert patched == bool(online), path.name
        batches += patched
        if patched:
            assert len(online) == 2, path.name  # one per signer of the 2-of-3 key
    assert batches == 1


def test_the_yielding_refill_is_covered() -> None:
    """A presignature refill that waited for signatures to stop drawing on its pool (`YIELDS_PATCH`): the history
    carries the marker, the waits, and the presign run after them."""
    from workflows.presign_pool import YIELDS_PATCH

    [path] = HISTORIES.glob("presign-refill-*.json")
    events = json.loads(path.read_text())["events"]
    assert YIELDS_PATCH in _patches(events)
    kinds = [e["eventType"] for e in events]
    first_run = next(i for i, e in enumerate(events) if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
                     and e["activityTaskScheduledEventAttributes"]["activityType"]["name"] == Activity.HELLO.value)
    assert "EVENT_TYPE_TIMER_STARTED" in kinds[:first_run]
