"""Run schemathesis (its CLI, in a child process) against a running API; shared by the test and the script.

Used by `tests/api/test_schemathesis.py` (a bounded run on the test stack) and `scripts/schemathesis`
(a longer run on its own `mpc dev`). The run uses a real token, the checks in `CHECKS`, every phase
(examples, coverage, fuzzing, stateful over the schema's links) and `schemathesis_hooks.py`, which bound
the cost of an example but never what is checked. The nodes and tokens that exist before the run are
protected from its DELETEs, so the stack under test survives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.api.schemathesis_hooks import PROTECTED_ENV

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")

CHECKS = (
    "not_a_server_error",            # no 5xx
    "status_code_conformance",       # only documented statuses
    "content_type_conformance",      # the documented media type
    "response_schema_conformance",   # bodies match the documented schema
    "response_headers_conformance",  # documented headers present and valid
    "negative_data_rejection",       # input outside the schema is refused with a 4xx
    "ignored_auth",                  # no auth, or a wrong token, is refused
    "use_after_free",                # a deleted resource stays gone
    "ensure_resource_availability",  # a created resource can be fetched
    "allow_header_conformance",      # a 405 names the methods the path has
)
"""Every check must pass. `positive_data_acceptance` is left out: cross-field and state rules that a JSON
schema cannot state (threshold <= number of nodes, nodes that exist and are online, a timestamp within
5 minutes of the server clock) are refused with 4xx for input that the schema alone allows."""

PHASES = ("examples", "coverage", "fuzzing", "stateful")
EXCLUDED = ("POST /v1/keys/{key_id}/reshare", "POST /v1/keys/{key_id}/refresh",
            "PUT /v1/keys/{key_id}/refresh-schedule")
"""Left out of the bounded CI run: each accepted example runs a full two-phase reshare on the participants
(seconds each, ECDSA tens of seconds), and an accepted schedule would go on refreshing a key for the rest
of the test session. Their statuses are documented like disable's; tests/integration/test_reshare.py covers
their bad input."""
WORKERS = 1
"""One worker: on Python 3.11, hypothesis building strategies in two threads at once can fail inside the
interpreter's AST constructor ("AST constructor recursion depth mismatch", cpython gh-106905), which
schemathesis reports as a run error. The API, not the generator, is what takes the time anyway."""


@dataclass
class RunResult:
    exit_code: int
    report: dict[str, Any]
    output: str
    seconds: float
    checks: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.report.get("failures") or [])

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.report.get("errors") or [])

    @property
    def generated(self) -> int:
        return int((self.report.get("test_cases") or {}).get("generated", 0))

    @property
    def tested_operations(self) -> int:
        return int((self.report.get("operations") or {}).get("tested", 0))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors and self.generated > 0

    def summary(self) -> str:
        ops = self.report.get("operations") or {}
        cases = self.report.get("test_cases") or {}
        phases = self.report.get("phases") or {}
        lines = [
            "schemathesis summary",
            f"  result              {'PASS' if self.ok else 'FAIL'} (exit code {self.exit_code})",
            f"  running time        {self.seconds:.1f} s",
            f"  operations tested   {ops.get('tested', 0)} of {ops.get('total', 0)}"
            f" (errored {ops.get('errored', 0)}, skipped {ops.get('skipped', 0)})",
            "  phases              " + ", ".join(f"{name} {p.get('status')}" for name, p in phases.items()),
            f"  test cases          {cases.get('generated', 0)} generated, {cases.get('with_failures', 0)} failing,"
            f" {cases.get('unique_failures', 0)} unique failures, {cases.get('errored', 0)} errored",
            f"  checks              {', '.join(self.checks)}",
        ]
        for failure in self.failures:
            lines.append(f"  FAILURE {failure.get('code')} {failure.get('title')}: {failure.get('count')} "
                         f"({', '.join(failure.get('operations') or [])})")
        for error in self.errors:
            lines.append(f"  ERROR   {error.get('title')}: {error.get('count')}")
        return "\n".join(lines)


def protected_ids(api_url: str, token: str) -> list[str]:
    """The nodes, tokens and keys that exist now: the run must not remove or change them (see the hooks)."""
    headers = {"Authorization": f"Bearer {token}"}
    nodes = httpx.get(f"{api_url}/v1/nodes", headers=headers, timeout=30).raise_for_status().json()["nodes"]
    tokens = httpx.get(f"{api_url}/v1/tokens", headers=headers, timeout=30).raise_for_status().json()["tokens"]
    keys: set[str] = set()
    while True:
        page = httpx.get(f"{api_url}/v1/keys", params={"limit": 500, "offset": len(keys)}, headers=headers,
                         timeout=30).raise_for_status().json()
        keys |= {k["key_id"] for k in page["keys"]}
        if not page["keys"] or len(keys) >= page["total"]:
            break
    return sorted({n["node_id"] for n in nodes} | {t["token_id"] for t in tokens} | keys)


def run(api_url: str, token: str, *, examples: int, work_dir: Path, seed: int | None = None,
        workers: int = WORKERS, phases: Sequence[str] = PHASES, checks: Sequence[str] = CHECKS,
        schema: str | Path | None = None, excluded: Sequence[str] = EXCLUDED, extra_args: Sequence[str] = (),
        timeout: float = 3600,
        echo: bool = False) -> RunResult:
    """Run the schemathesis CLI against `api_url` (the schema from `/openapi.json`, or the file `schema`)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    report_path = work_dir / "report.json"
    report_path.unlink(missing_ok=True)
    protected = protected_ids(api_url, token)
    location = str(schema) if schema is not None else f"{api_url}/openapi.json"
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color", "run", location,
            "--url", api_url, "--header", f"Authorization: Bearer {token}",
            "--checks", ",".join(checks), "--phases", ",".join(phases),
            "--max-examples", str(examples), "--workers", str(workers),
            "--report", "json", "--report-json-path", str(report_path),
            *(["--seed", str(seed)] if seed is not None else []),
            *[arg for name in excluded for arg in ("--exclude-name", name)], *extra_args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", PROTECTED_ENV: ",".join(protected),
           "NO_COLOR": "1"}
    started = time.monotonic()
    # cwd: the work dir, so nothing the CLI writes (hypothesis database, reports) lands in the repository.
    with subprocess.Popen(argv, cwd=work_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, start_new_session=True) as child:
        lines = []
        try:
            assert child.stdout is not None
            deadline = time.monotonic() + timeout
            for line in child.stdout:
                lines.append(line)
                if echo:
                    print(line, end="", flush=True)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"schemathesis ran longer than {timeout:.0f} s")
            exit_code = child.wait()
        finally:
            if child.poll() is None:  # stopped early (timeout, Ctrl-C): stop it by its pid
                child.kill()
                child.wait()
    output = "".join(lines)
    (work_dir / "output.txt").write_text(output)
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return RunResult(exit_code, report, output, time.monotonic() - started, list(checks), protected)
