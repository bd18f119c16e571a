"""Human approvals (issue 9 part 5): a 2-of-3 approver policy signs only after two `mpc approve`.

Real stack, real CLI processes: `mpc approvers keygen`, `mpc keys create --policy`, `mpc approve`,
`mpc sessions show`. A rejection ends the session `rejected`; a second API with a 3-second
APPROVAL_TIMEOUT shows the expiry. Nodes enforce the pinned quorum themselves: an API-signed intent
without the approvals is refused by the participant.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpc.cli.approver_keys import decide, load_key
from tests.integration.helpers import check_signature, wait_session
from tests.services import start_api
from tests.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
NODES = ["p1", "p2", "p3"]


def mpc(api_url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPC_API_URL": api_url, "MPC_API_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "mpc", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def approvers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("approvers")
    keys = {}
    for name in ("alice", "bob", "carol"):
        path = folder / f"{name}.pem"
        run = subprocess.run([sys.executable, "-m", "mpc", "approvers", "keygen", "--out", str(path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stderr
        public = run.stdout.strip()
        assert len(public) == 64 and int(public, 16) >= 0 and "PRIVATE" not in run.stdout
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        keys[name] = (path, public)
    again = subprocess.run([sys.executable, "-m", "mpc", "approvers", "keygen", "--out", str(keys["alice"][0])],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    return keys


@pytest.fixture(scope="module")
def policy_key(stack: Stack, approvers: dict[str, tuple[Path, str]], tmp_path_factory: pytest.TempPathFactory,
               ) -> dict[str, Any]:
    policy = {"approvers": [{"name": n, "public_key": k} for n, (_, k) in approvers.items()],
              "quorum": {"sign": 2, "reshare": 2}}
    policy_file = tmp_path_factory.mktemp("policy") / "policy.json"
    policy_file.write_text(json.dumps(policy))
    run = mpc(stack.api_url, stack.admin_token, "keys", "create", "--chain-type", "ed25519", "--curve", "ed25519",
              "--threshold", "2", "--nodes", ",".join(NODES), "--policy", str(policy_file), "--json")
    assert run.returncode == 0, run.stderr
    key = json.loads(run.stdout)["key"]
    assert key["policy"] == {"approvers": policy["approvers"], "quorum": {"reshare": 2, "sign": 2}}
    return key


def start_sign(api: httpx.Client, key_id: str, message: bytes) -> dict[str, Any]:
    reply = api.post(f"/v1/keys/{key_id}/sign", json={"digest": hashlib.sha256(message).hexdigest()})
    assert reply.status_code == 202, reply.text
    return reply.json()


def wait_status(api: httpx.Client, session_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = api.get(f"/v1/sessions/{session_id}").json()
        if session["status"] == status:
            return session
        time.sleep(0.2)
    raise TimeoutError(f"session {session_id} is {session['status']}, not {status}")


def test_two_of_three_approvers_sign(stack: Stack, policy_key: dict[str, Any],
                                     approvers: dict[str, tuple[Path, str]]) -> None:
    with stack.client() as api:
        started = start_sign(api, policy_key["key_id"], b"needs two approvers")
        session_id = started["session_id"]
        wait_status(api, session_id, "awaiting_approval")
        intent = api.get(f"/v1/sessions/{session_id}/intent").json()
        assert intent["approvals_needed"] == 2 and intent["approvals"] == []
        assert intent["intent_fields"]["details"]["digest"] == started["message_hash"]
        raw = bytes.fromhex(intent["intent"])

        # Bad approvals change nothing: an unknown approver, a signature over other bytes.
        stranger = load_key(approvers["alice"][0])
        bad = {"public_key": "11" * 32, "signature": decide(stranger, raw, reject=False)}
        refused = api.post(f"/v1/sessions/{session_id}/approvals", json=bad)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_approver"
        forged = {"public_key": approvers["alice"][1], "signature": decide(stranger, b"other bytes", reject=False)}
        refused = api.post(f"/v1/sessions/{session_id}/approvals", json=forged)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_signature"

        first = mpc(stack.api_url, stack.admin_token, "approve", session_id, "--key", str(approvers["alice"][0]))
        assert first.returncode == 0, first.stderr
        assert "approved" in first.stdout and "alice" in first.stdout
        time.sleep(1.0)
        assert api.get(f"/v1/sessions/{session_id}").json()["status"] == "awaiting_approval"  # one is not enough
        second = mpc(stack.api_url, stack.admin_token, "approve", session_id, "--key", str(approvers["carol"][0]))
        assert second.returncode == 0, second.stderr
        done = wait_session(api, session_id)
        assert done["status"] == "completed", done["error"]
        check_signature(policy_key, done["message_hash"], done["signature"])

    shown = mpc(stack.api_url, stack.admin_token, "sessions", "show", session_id)
    assert shown.returncode == 0 and "approved by alice" in shown.stdout and "approved by carol" in shown.stdout
    assert "bob" not in shown.stdout


def test_a_rejection_ends_the_session(stack: Stack, policy_key: dict[str, Any],
                                      approvers: dict[str, tuple[Path, str]]) -> None:
    with stack.client() as api:
        session_id = start_sign(api, policy_key["key_id"], b"bob says no")["session_id"]
        wait_status(api, session_id, "awaiting_approval")
        run = mpc(stack.api_url, stack.admin_token, "approve", session_id, "--key", str(approvers["bob"][0]),
                  "--reject")
        assert run.returncode == 0, run.stderr
        done = wait_session(api, session_id)
        assert done["status"] == "failed" and done["error"]["code"] == "rejected"
        assert done["signature"] is None
        assert api.get(f"/v1/keys/{policy_key['key_id']}").json()["status"] == "active"  # nobody is blamed
        late = mpc(stack.api_url, stack.admin_token, "approve", session_id, "--key", str(approvers["alice"][0]))
        assert late.returncode == 2 and "not_awaiting_approval" in late.stderr


@pytest.fixture(scope="module")
def impatient_api(stack: Stack) -> Iterator[str]:
    """A second API process whose sessions wait 10 seconds for approvers (one `mpc approve` fits, under load)."""
    process, url = start_api({**stack.env, "APPROVAL_TIMEOUT": "10s"}, stack.log_dir, name="api-impatient")
    try:
        yield url
    finally:
        process.stop()


def test_approval_times_out(stack: Stack, policy_key: dict[str, Any], impatient_api: str,
                            approvers: dict[str, tuple[Path, str]]) -> None:
    with httpx.Client(base_url=impatient_api, headers=stack.headers, timeout=60) as api:
        session_id = start_sign(api, policy_key["key_id"], b"nobody answers")["session_id"]
        wait_status(api, session_id, "awaiting_approval")
        mpc(impatient_api, stack.admin_token, "approve", session_id, "--key", str(approvers["alice"][0]))
        done = wait_session(api, session_id, timeout=60)
        assert done["status"] == "failed" and done["error"]["code"] == "approval_timeout"
        assert "1 of 2" in done["error"]["message"]
        audit = api.get("/v1/audit-logs", params={"session_id": session_id}).json()["entries"]
        assert any(e["action"] == "session.approve" for e in audit)
        assert any(e["action"] == "key.sign" and e["status"] == "failure" for e in audit)
