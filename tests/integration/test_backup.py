"""Backups on the real stack: a run through the API, the set on disk, its signed manifest."""

from __future__ import annotations

import json
from pathlib import Path

from mpc.backup.manifest import DB_DUMP_FILE, MANIFEST_FILE, SIGNATURE_FILE, verify_set
from tests.integration.helpers import create_key, wait_session
from tests.stack import Stack


def run_backup(stack: Stack) -> dict:
    with stack.client() as client:
        reply = client.post("/v1/backups")
        assert reply.status_code == 202, reply.text
        started = reply.json()
        session = wait_session(client, started["session_id"], timeout=180)
        assert session["status"] == "completed", session["error"]
        assert session["operation"] == "backup"
        backup = client.get(f"/v1/backups/{started['backup_id']}").json()
    assert backup["status"] == "completed"
    return backup


def test_backup_through_the_api(stack: Stack) -> None:
    with stack.client() as client:
        key = create_key(client, chain_type="solana", threshold=2, total_nodes=3)
    backup = run_backup(stack)
    root = Path(backup["path"])
    checked = verify_set(root)
    files = {f.path for f in checked.manifest.files}
    assert DB_DUMP_FILE in files
    for node in key["participants"]:
        assert f"nodes/{node}/meta/{key['key_id']}/epoch-0.meta" in files
    listed = checked.manifest.key(key["key_id"])
    assert listed is not None and listed["holders"] == key["participants"] and listed["epoch"] == 0
    assert listed["package"]["group_public_key"]
    assert backup["manifest"] == json.loads((root / MANIFEST_FILE).read_bytes())
    assert backup["size_bytes"] > 0 and backup["duration_ms"] is not None
    assert (root / SIGNATURE_FILE).is_file()
    assert not list(root.parent.glob("*.partial"))
    # no share, nonce or presignature material: only .meta files came from the nodes
    assert all(p.startswith("nodes/") and p.endswith(".meta") for p in files - {DB_DUMP_FILE})
