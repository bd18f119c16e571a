"""Schemathesis over the OpenAPI of the real API (issue 15 part 3): no 5xx, nothing outside the schema.

The API runs on the integration stack (real Temporal, OpenBao, PostgreSQL, Redis and five participants),
with a real admin token. Every phase runs: the schema's examples, the coverage phase (boundary and
invalid values, missing auth, unexpected methods), fuzzing, and stateful sequences over the schema's
links (create a key, sign with it, read the session and its intent, disable and enable the key), with
the checks in `schemathesis_run.CHECKS`. The example count is bounded (MPC_SCHEMATHESIS_EXAMPLES,
default 5) so the run stays within a few minutes; `scripts/schemathesis` runs longer. Reshare and refresh
are left out for now (`schemathesis_run.EXCLUDED`), and the nodes, tokens and keys that existed before the
run are never removed or changed by it (`schemathesis_hooks.before_call`).

Two more tests show the harness can fail: a schema with one status left out, and an API without
Temporal (which answers 503), must each be reported.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import httpx
import pytest

from tests.api.schemathesis_run import EXCLUDED, run
from tests.services import make_token, start_api
from tests.stack import PARTICIPANTS, Stack

EXAMPLES = int(os.environ.get("MPC_SCHEMATHESIS_EXAMPLES", "5"))
SEED = int(os.environ.get("MPC_SCHEMATHESIS_SEED") or random.randrange(2**31))

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def _operations(api_url: str) -> int:
    paths = httpx.get(f"{api_url}/openapi.json", timeout=30).json()["paths"]
    return sum(method in ("get", "post", "put", "patch", "delete") for ops in paths.values() for method in ops)


def _sessions(stack: Stack) -> list[dict]:
    with stack.client() as api:
        return api.get("/v1/sessions", params={"limit": 500}).json()["sessions"]


def test_schemathesis_finds_no_server_error_and_nothing_undocumented(stack: Stack, migrated_db: str,
                                                                     tmp_path: Path) -> None:
    token = make_token(migrated_db, "admin", name="schemathesis")
    before = {s["session_id"] for s in _sessions(stack)}
    with stack.client() as api:
        keys_before = {k["key_id"]: k["status"] for k in api.get("/v1/keys", params={"limit": 500}).json()["keys"]}
        live_tokens = {t["token_id"] for t in api.get("/v1/tokens").json()["tokens"] if not t["revoked_at"]}
    result = run(stack.api_url, token, examples=EXAMPLES, seed=SEED, work_dir=tmp_path / "run")
    detail = f"seed {SEED}\n{result.summary()}\n{result.output[-20000:]}"
    assert result.ok, detail
    report = result.report
    operations = report["operations"]
    assert operations["total"] == _operations(stack.api_url), detail
    assert operations["tested"] == operations["selected"] == operations["total"] - len(EXCLUDED), detail
    assert all(p["status"] == "success" for p in report["phases"].values()), detail
    assert set(report["phases"]) == {"examples", "coverage", "fuzzing", "stateful"}, detail
    covered = re.search(r"API Links:\s+(\d+) covered", result.output)
    assert covered and int(covered.group(1)) > 0, f"the stateful phase followed no link\n{detail}"

    # Not only refusals: the run made keys and signed with them through the real participants.
    made = [s for s in _sessions(stack) if s["session_id"] not in before]
    assert any(s["operation"] == "keygen" and s["status"] == "completed" for s in made), detail
    assert any(s["operation"] == "sign" for s in made), detail

    # The stack survived the run: its nodes, tokens and keys are still there, and the nodes heartbeat.
    stack.wait_online(PARTICIPANTS, fresh=True)
    with stack.client() as api:
        revoked = [t["name"] for t in api.get("/v1/tokens").json()["tokens"]
                   if t["token_id"] in live_tokens and t["revoked_at"]]
        changed = [k["key_id"] for k in api.get("/v1/keys", params={"limit": 500}).json()["keys"]
                   if k["key_id"] in keys_before and k["status"] != keys_before[k["key_id"]]]
    assert revoked == [] and changed == []


def test_an_undocumented_status_is_reported(stack: Stack, tmp_path: Path) -> None:
    """The same harness, on a schema that leaves 404 out of `GET /v1/keys/{key_id}`: it must fail."""
    schema = httpx.get(f"{stack.api_url}/openapi.json", timeout=30).json()
    del schema["paths"]["/v1/keys/{key_id}"]["get"]["responses"]["404"]
    (tmp_path / "openapi.json").write_text(json.dumps(schema))
    result = run(stack.api_url, stack.admin_token, examples=1, seed=SEED, work_dir=tmp_path / "run",
                 schema=tmp_path / "openapi.json", phases=["coverage"],
                 extra_args=["--include-name", "GET /v1/keys/{key_id}"])
    assert not result.ok
    assert "ST103" in {f["code"] for f in result.failures}, result.output[-5000:]


def test_a_server_error_is_reported(stack: Stack, stack_env: dict[str, str], tmp_path: Path) -> None:
    """An API whose Temporal is gone answers a keygen with 503: the run must report a server error."""
    from mpc.devstack.ports import free_port

    api, url = start_api({**stack_env, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}, tmp_path / "logs",
                         name="api-no-temporal")
    try:
        result = run(url, stack.admin_token, examples=1, seed=SEED, work_dir=tmp_path / "run",
                     phases=["examples"], extra_args=["--include-name", "POST /v1/keys"])
    finally:
        api.stop()
    assert not result.ok
    assert "ST101" in {f["code"] for f in result.failures}, result.output[-5000:]
