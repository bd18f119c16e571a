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


def test_recover_refuses_bad_requests_and_starts_nothing(stack: Stack) -> None:
    """`POST /v1/keys/{id}/recover` needs a manifest signed by this API's intent key (which random input or
    another signer cannot give), refuses unknown keys and malformed bodies, and starts no session."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mpc.backup.manifest import Manifest, ManifestSignature, signed_message

    with stack.client() as client:
        key = create_key(client, chain_type="solana", threshold=2, total_nodes=3)
        key_id = key["key_id"]
        raw = Manifest("set-x", "2026-12-10T00:00:00+00:00", "0006", [], [{"key_id": key_id}], []).to_bytes()
        other = Ed25519PrivateKey.generate()
        forged = ManifestSignature(other.public_key().public_bytes_raw().hex(),
                                   other.sign(signed_message("set-x", hashlib.sha256(raw).hexdigest())).hex())
        body = {"backup_id": "set-x", "manifest": base64.b64encode(raw).decode(),
                "manifest_signature": forged.to_bytes().decode(), "threshold": 2,
                "holders": [{"node_id": "p1", "party_id": 1}, {"node_id": "p4", "party_id": 4}],
                "package": {}, "shares": {"p1": "", "p4": ""}}
        before = client.get("/v1/sessions", params={"key_id": key_id}).json()["total"]
        replies = {
            "foreign signer": client.post(f"/v1/keys/{key_id}/recover", json=body),
            "not a manifest": client.post(f"/v1/keys/{key_id}/recover",
                                          json={**body, "manifest": base64.b64encode(b"{}").decode()}),
            "not base64": client.post(f"/v1/keys/{key_id}/recover", json={**body, "manifest": "%%%"}),
            "unknown field": client.post(f"/v1/keys/{key_id}/recover", json={**body, "secret": "x"}),
        }
        unknown = client.post("/v1/keys/00000000-0000-0000-0000-000000000000/recover", json=body)
        after = client.get("/v1/sessions", params={"key_id": key_id}).json()["total"]
    assert replies["foreign signer"].status_code == 422, replies["foreign signer"].text
    assert replies["foreign signer"].json()["error"]["code"] == "invalid_manifest"
    assert "intent key" in replies["foreign signer"].json()["error"]["message"]
    assert replies["not a manifest"].json()["error"]["code"] == "invalid_manifest"
    assert replies["not base64"].json()["error"]["code"] == "invalid_value"
    assert replies["unknown field"].status_code == 422
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "key_not_found"
    assert after == before
