"""`mpc keys|sign|sessions|nodes` as real subprocesses against the real stack."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.cli.conftest import NODES
from tests.stack import Stack

ROOT = Path(__file__).resolve().parents[2]


def mpc(stack: Stack, *args: str, token: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPC_API_URL": stack.api_url, "MPC_API_TOKEN": token or stack.admin_token}
    return subprocess.run([sys.executable, "-m", "mpc", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def fields(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


@pytest.fixture(scope="module")
def created(stack: Stack) -> dict[str, str]:
    """A 2-of-3 Ed25519 key made by `mpc keys create` (human output)."""
    run = mpc(stack, "keys", "create", "--chain-type", "ed25519", "--curve", "ed25519", "--threshold", "2",
              "--nodes", ",".join(NODES), "--description", "cli test", "--tag", "team=cli", "--tag", "env=test")
    assert run.returncode == 0, run.stderr
    assert "keygen " in run.stderr and "completed" in run.stderr  # the progress lines
    return fields(run.stdout)


def test_create_list_show_sign_session(stack: Stack, created: dict[str, str]) -> None:
    key_id = created["key_id"]
    assert created["status"] == "active" and created["participants"] == ",".join(NODES)
    assert created["threshold"] == "2" and created["total_nodes"] == "3" and created["curve"] == "ed25519"
    assert "team=cli" in created["tags"] and created["session_id"]

    listed = mpc(stack, "keys", "list", "--status", "active")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("KEY_ID") and key_id in listed.stdout and "2-of-3" in listed.stdout
    listed_json = json.loads(mpc(stack, "keys", "list", "--json").stdout)
    assert key_id in [k["key_id"] for k in listed_json["keys"]]

    shown = mpc(stack, "keys", "show", key_id, "--json")
    assert shown.returncode == 0, shown.stderr
    key = json.loads(shown.stdout)
    assert key["public_key"] == created["public_key"] and key["participants"] == NODES
    assert fields(mpc(stack, "keys", "show", key_id).stdout)["public_key"] == key["public_key"]

    digest = hashlib.sha256(b"signed through the mpc CLI").hexdigest()
    signed = mpc(stack, "sign", key_id, "--digest", digest, "--signers", f"{NODES[0]},{NODES[2]}")
    assert signed.returncode == 0, signed.stderr
    assert "sign " in signed.stderr and "round" in signed.stderr
    result = fields(signed.stdout)
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(key["public_key"])).verify(
        bytes.fromhex(result["signature"]), bytes.fromhex(digest))
    assert result["participants"] == f"{NODES[0]},{NODES[2]}"

    session = mpc(stack, "sessions", "show", result["session_id"])
    assert session.returncode == 0, session.stderr
    shown_session = fields(session.stdout)
    assert shown_session["status"] == "completed" and shown_session["signature"] == result["signature"]
    assert shown_session["operation"] == "sign" and shown_session["key_id"] == key_id
    as_json = json.loads(mpc(stack, "sessions", "show", result["session_id"], "--json").stdout)
    assert as_json["signature"] == result["signature"] and as_json["message_hash"] == digest


def test_sign_json_and_no_wait(stack: Stack, created: dict[str, str]) -> None:
    digest = "ab" * 32
    started = mpc(stack, "sign", created["key_id"], "--digest", digest, "--no-wait", "--json")
    assert started.returncode == 0, started.stderr
    session = json.loads(started.stdout)
    assert session["status"] in ("pending", "running", "completed") and session["key_id"] == created["key_id"]
    waited = mpc(stack, "sign", created["key_id"], "--digest", digest, "--json")
    assert waited.returncode == 0, waited.stderr
    signature = json.loads(waited.stdout)["signature"]
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(created["public_key"])).verify(
        bytes.fromhex(signature), bytes.fromhex(digest))


def test_nodes_list(stack: Stack) -> None:
    with stack.client() as api:  # the first heartbeat that reports pool levels comes 0.5 s after registration
        deadline = time.monotonic() + 15
        while not all(n["pool_levels"] for n in api.get("/v1/nodes").json()["nodes"] if n["node_id"] in NODES):
            assert time.monotonic() < deadline, "no pool levels reported"
            time.sleep(0.2)
    run = mpc(stack, "nodes", "list")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("NODE_ID") and all(n in run.stdout for n in NODES)
    listed = json.loads(mpc(stack, "nodes", "list", "--json").stdout)
    assert listed["total"] >= len(NODES)
    # The PREPARAMS column: each node's sealed pre-parameter sets, from its last heartbeat.
    header, *rows = run.stdout.splitlines()
    column = header.split().index("PREPARAMS") - 1  # "LAST HEARTBEAT" is two words in the header
    levels = {n["node_id"]: n["pool_levels"].get("paillier_preparams") for n in listed["nodes"]}
    for row in rows:
        cells = row.split()
        if cells and cells[0] in NODES:
            assert levels[cells[0]] is not None and cells[column].isdigit()


def test_sign_digests_file(stack: Stack, created: dict[str, str], tmp_path: Path) -> None:
    """`mpc sign KEY --digests-file FILE`: one session, a "digest signature" line per digest in file order."""
    digests = [hashlib.sha256(f"cli batch {i}".encode()).hexdigest() for i in range(3)]
    batch = tmp_path / "digests.txt"
    batch.write_text(f"# three payments\n{digests[0]}\n\n{digests[1]}  # the second\n{digests[2]}\n")
    run = mpc(stack, "sign", created["key_id"], "--digests-file", str(batch))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(created["public_key"]))
    for digest, line in zip(digests, lines[:3], strict=True):
        signed, signature = line.split(" ")
        assert signed == digest
        public.verify(bytes.fromhex(signature), bytes.fromhex(digest))
    assert fields(run.stdout)["session_id"]
    as_json = json.loads(mpc(stack, "sign", created["key_id"], "--digests-file", str(batch), "--json").stdout)
    assert as_json["message_hashes"] == digests and len(as_json["signatures"]) == 3
    # A duplicate is the API's 422 (nothing started); a missing file is a one-line error; both exit 2.
    batch.write_text(f"{digests[0]}\n{digests[0]}\n")
    run = mpc(stack, "sign", created["key_id"], "--digests-file", str(batch))
    assert run.returncode == 2 and "validation_error" in run.stderr and not run.stdout
    run = mpc(stack, "sign", created["key_id"], "--digests-file", str(tmp_path / "missing.txt"))
    assert run.returncode == 2 and "digests_file" in run.stderr and not run.stdout
    run = mpc(stack, "sign", created["key_id"], "--digest", digests[0], "--digests-file", str(batch))
    assert run.returncode == 2 and "not allowed with" in run.stderr


def test_unknown_key(stack: Stack) -> None:
    for args in (["keys", "show", "no-such-key"], ["sign", "no-such-key", "--digest", "00" * 32]):
        run = mpc(stack, *args)
        assert run.returncode == 2, run
        assert "key_not_found" in run.stderr and len(run.stderr.strip().splitlines()) == 1 and not run.stdout


def test_malformed_digest(stack: Stack, created: dict[str, str]) -> None:
    before = json.loads(mpc(stack, "keys", "show", created["key_id"], "--json").stdout)
    run = mpc(stack, "sign", created["key_id"], "--digest", "xyz")
    assert run.returncode == 2
    assert "validation_error" in run.stderr and "digest" in run.stderr and not run.stdout
    assert json.loads(mpc(stack, "keys", "show", created["key_id"], "--json").stdout) == before


def test_bad_token(stack: Stack) -> None:
    run = mpc(stack, "keys", "list", token="not-a-token")
    assert run.returncode == 2
    assert "HTTP 401" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_usage_error_and_unreachable_api(stack: Stack) -> None:
    run = mpc(stack, "keys", "create", "--chain-type", "ed25519", "--threshold", "2")  # no --nodes/--total-nodes
    assert run.returncode == 2 and "usage:" in run.stderr
    env = {**os.environ, "MPC_API_TOKEN": "x"}
    down = subprocess.run([sys.executable, "-m", "mpc", "nodes", "list", "--api-url", "http://127.0.0.1:9"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 2 and "connection_error" in down.stderr


def test_failed_session_exits_1(stack: Stack, created: dict[str, str]) -> None:
    """A signer that is down: the session fails (exit 1) naming the node; the node is restarted afterwards."""
    down = NODES[2]
    stack.participants[down].stop()  # still listed online until its heartbeat ages out
    try:
        run = mpc(stack, "sign", created["key_id"], "--digest", "11" * 32, "--signers", f"{NODES[0]},{down}")
    finally:
        restarted = datetime.now(UTC)
        stack.participants[down].start()
        wait_heartbeat_after(stack, down, restarted)
    assert run.returncode == 1, (run.stdout, run.stderr)
    last = run.stderr.strip().splitlines()[-1]
    assert "failed" in last and f"(node {down})" in last, run.stderr


def wait_heartbeat_after(stack: Stack, node: str, moment: datetime, timeout: float = 60) -> None:
    """Until the restarted node has registered again (a heartbeat newer than `moment`)."""
    deadline = time.monotonic() + timeout
    with stack.client(timeout=10) as http:
        while time.monotonic() < deadline:
            beat = datetime.fromisoformat(http.get(f"/v1/nodes/{node}").json()["last_heartbeat"])
            if beat > moment:
                return
            time.sleep(0.2)
    raise TimeoutError(f"{node} did not come back")


def test_keys_disable_and_enable(stack: Stack, created: dict[str, str]) -> None:
    key_id = created["key_id"]
    off = mpc(stack, "keys", "disable", key_id, "--reason", "cli test")
    assert off.returncode == 0, off.stderr
    assert f"key {key_id} disabled on" in off.stdout
    shown = json.loads(mpc(stack, "keys", "show", key_id, "--json").stdout)
    assert shown["status"] == "disabled"
    refused = mpc(stack, "sign", key_id, "--digest", "ab" * 32)
    assert refused.returncode == 2 and "key_not_active" in refused.stderr
    on = mpc(stack, "keys", "enable", key_id)
    assert on.returncode == 0, on.stderr
    assert json.loads(mpc(stack, "keys", "show", key_id, "--json").stdout)["status"] == "active"


def test_keys_reshare_refresh_and_epochs(stack: Stack) -> None:
    made = mpc(stack, "keys", "create", "--chain-type", "ed25519", "--threshold", "2", "--nodes", ",".join(NODES),
               "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    grown = mpc(stack, "keys", "reshare", key["key_id"], "--threshold", "3", "--nodes", ",".join([*NODES, "p4"]),
                "--reason", "cli grow", timeout=300)
    assert grown.returncode == 0, grown.stderr
    assert "reshare " in grown.stderr and "completed" in grown.stderr  # the progress lines
    assert f"epoch 1, 3-of-{len(NODES) + 1}" in grown.stdout and key["public_key"] in grown.stdout
    fresh = mpc(stack, "keys", "refresh", key["key_id"], timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    assert f"key {key['key_id']} refreshed: epoch 2" in fresh.stdout
    table = mpc(stack, "keys", "epochs", key["key_id"])
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["EPOCH", "T-OF-N", "HOLDERS", "REASON", "CREATED", "ACTIVE"]
    assert [line.split()[0:2] for line in lines[1:]] == [["0", "2-of-3"], ["1", "3-of-4"], ["2", "3-of-4"]]
    assert lines[-1].split()[-1] == "yes" and "cli grow" in lines[2]
    bad = mpc(stack, "keys", "reshare", key["key_id"], "--threshold", "9", "--nodes", ",".join(NODES))
    assert bad.returncode == 2 and "invalid_threshold" in bad.stderr
    gone = mpc(stack, "keys", "archive", key["key_id"], "--reason", "cli test done")
    assert gone.returncode == 0, gone.stderr
    assert f"key {key['key_id']} archived on" in gone.stdout
    assert json.loads(mpc(stack, "keys", "show", key["key_id"], "--json").stdout)["status"] == "archived"
