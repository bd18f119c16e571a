"""`scripts/chaos`: signatures under load while every kind of process is killed -9, then the checks and the
secrets scan, and one table (issue 15 parts 1, 5 and the report).

    ./scripts/chaos                                  # 1,000 signatures, 8 clients, faults until the load ends
    ./scripts/chaos --signatures 48 --cycles 1       # the CI variant's shape (tests/chaos/test_chaos.py)
    ./scripts/chaos --schemathesis 20 --fuzz-scale 1 # also run schemathesis and the fuzzers for the table

It starts its own `mpc dev` (free loopback ports, a temporary data dir, GG20 pre-parameter pools from the
committed fixtures), makes a FROST Ed25519, a FROST Taproot and a GG20 key (2-of-3), runs the load
(tests/chaos/load.py) while the injector (tests/chaos/faults.py) kills processes, waits until every
session has ended, checks (tests/chaos/checks.py), scans for canaries (tests/chaos/scan.py), prints the
table and stops every process it started by pid. Exit code 1 when any assertion fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.chaos.canaries import Harvester, key_canaries, node_stores  # noqa: E402
from tests.chaos.checks import Figures, all_sessions, evaluate  # noqa: E402
from tests.chaos.faults import KINDS, FaultInjector, wait_until  # noqa: E402
from tests.chaos.load import Job, make_jobs, recheck_all, run_load  # noqa: E402
from tests.chaos.scan import Scanner, ScanResult, scan_postgres, scan_redis, scan_temporal  # noqa: E402
from tests.chaos.stack import NODES, ChaosStack  # noqa: E402

KEYS = [  # (label, keygen body): the three signing families of the issue; the load signs bare digests
    ("FROST Ed25519", {"protocol": "frost", "chain_type": "ed25519", "curve": "ed25519", "allow_raw_digest": True}),
    ("FROST Taproot", {"protocol": "frost", "chain_type": "bitcoin", "curve": "secp256k1-tr",
                       "allow_raw_digest": True}),
    ("GG20", {"protocol": "gg20", "chain_type": "ethereum", "allow_raw_digest": True}),
]


@dataclass
class ChaosConfig:
    signatures: int = 1000
    clients: int = 8
    cycles: int | None = None  # fault cycles (each kind once per cycle); None: until the load ends
    gap: tuple[float, float] = (4.0, 15.0)  # seconds between the recovery of one fault and the next kill
    seed: int = 0
    round_timeout: float = 10.0
    session_timeout: float = 120.0
    schemathesis: int = 0  # examples per operation (0: not run)
    fuzz_scale: int = 0  # MPC_FUZZ_SCALE of a tests/fuzz run (0: not run)
    keep: bool = False


@dataclass
class Outcome:
    config: ChaosConfig
    figures: Figures
    faults: Counter[str]
    fault_errors: list[str]
    scan: ScanResult | None
    keys: dict[str, dict[str, Any]]
    temporal_workflows: int = 0
    redis_keys: int = 0
    leftover_pids: list[int] = field(default_factory=list)
    schemathesis: dict[str, Any] | None = None
    fuzz: dict[str, Any] | None = None
    data_dir: Path | None = None
    recovery: dict[str, list[float]] = field(default_factory=dict)  # seconds from kill -9 to serving, by kind

    @property
    def violations(self) -> list[str]:
        f = self.figures
        found = [f"{name}: {value}" for name, value in (
            ("lost", f.lost), ("stuck sessions", f.stuck), ("duplicated", f.duplicated), ("nonce reuse", f.reused),
            ("unverified signatures", f.unverified), ("failures without a cause", f.unnamed_failures),
            ("failures after SESSION_TIMEOUT", f.late_failures), ("requests never accepted", f.not_accepted))
            if value]
        missing = [k for k in KINDS if not self.faults.get(k)]
        if missing:
            found.append(f"fault kinds never injected: {', '.join(missing)}")
        found += [f"fault: {e}" for e in self.fault_errors]
        if self.scan is None:
            found.append("secrets scan did not run")
        elif self.scan.hits:
            found.append(f"secrets scan: {len(self.scan.hits)} hits")
        if self.leftover_pids:
            found.append(f"processes left running: {self.leftover_pids}")
        if self.schemathesis and self.schemathesis["failures"]:
            found.append(f"schemathesis: {self.schemathesis['failures']} failures")
        if self.fuzz and self.fuzz["crashes"]:
            found.append(f"fuzz: {self.fuzz['crashes']} crashes")
        return found


def _make_keys(stack: ChaosStack) -> dict[str, dict[str, Any]]:
    keys = {}
    with stack.client(timeout=600) as http:
        for label, body in KEYS:
            reply = http.post("/v1/keys?wait=true", json={**body, "threshold": 2, "nodes": NODES})
            session = reply.json()
            if reply.status_code != 200 or session.get("status") != "completed":
                raise RuntimeError(f"{label} keygen: {reply.status_code} {session}")
            keys[session["key"]["key_id"]] = {**session["key"], "label": label}
    return keys


def _stack_whole(stack: ChaosStack) -> bool:
    import httpx

    if any(not alive_pid for alive_pid in (_alive(p) for p in stack.pids().values())):
        return False
    if httpx.get(f"{stack.api_url}/ready", timeout=5).status_code != 200:
        return False
    nodes = httpx.get(f"{stack.api_url}/v1/nodes", headers=stack.headers, timeout=5).json()["nodes"]
    return {n["node_id"] for n in nodes if n["status"] == "online"} >= set(NODES)


def _alive(pid: int) -> bool:
    from tests.chaos.stack import alive

    return alive(pid)


def _settled_sessions(stack: ChaosStack, keys: dict[str, Any], timeout: float) -> dict[str, list[dict[str, Any]]]:
    """Every session of the chaos keys, once none is pending or running (or `timeout` passed)."""
    deadline = time.monotonic() + timeout
    while True:
        with stack.client() as http:
            sessions = {key_id: all_sessions(http, key_id) for key_id in keys}
        running = [s for rows in sessions.values() for s in rows if s["status"] in ("pending", "running")]
        if not running or time.monotonic() > deadline:
            return sessions
        time.sleep(2)


def _say(message: str) -> None:
    print(f"chaos: {message}", flush=True)


def run(config: ChaosConfig) -> Outcome:
    rng = random.Random(config.seed)
    run_id = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    data_dir = Path(tempfile.mkdtemp(prefix="mpc-chaos-"))
    settings = {"ROUND_TIMEOUT": f"{config.round_timeout:g}s", "SESSION_TIMEOUT": f"{config.session_timeout:g}s"}
    stack = ChaosStack(data_dir, data_dir / "logs", settings)
    scan: ScanResult | None = None
    faults: Counter[str] = Counter()
    outcome: Outcome | None = None
    try:
        _say(f"starting mpc dev in {data_dir}")
        stack.start()
        keys = _make_keys(stack)
        _say("keys: " + ", ".join(f"{k['label']} {key_id[:8]}" for key_id, k in keys.items()))
        vault_addr, vault_token = stack.vault()
        stores = node_stores(data_dir, NODES, vault_addr, vault_token)
        harvester = Harvester(stores)
        harvester.start()
        key_list = [(key_id, k["protocol"]) for key_id, k in keys.items()]
        jobs: list[Job] = make_jobs(run_id, key_list, config.signatures)
        injector = FaultInjector(stack, cycles=config.cycles, gap=config.gap, seed=rng.getrandbits(32),
                                 recover_within=max(180.0, config.session_timeout))
        extra = [config.signatures]

        def more() -> Job | None:  # a bounded fault plan still running: keep the load up until it ends
            if config.cycles is None or injector.done or extra[0] >= 5 * config.signatures:
                return None
            job = make_jobs(run_id, key_list, 1, start=extra[0])[0]
            extra[0] += 1
            return job

        _say(f"load: {config.signatures} signatures, {config.clients} clients; faults: "
             f"{config.cycles or 'until the load ends'} cycle(s) of {', '.join(KINDS)}")
        injector.start()
        seconds = run_load(jobs, stack.api_url, stack.headers, clients=config.clients,
                           accept_within=max(300.0, 2 * config.session_timeout),
                           session_end=config.session_timeout + 120, more=more)
        injector.stop()
        faults = Counter(f.kind for f in injector.faults)
        _say(f"load done in {seconds:.0f} s ({len(jobs)} requests); faults {dict(faults)}; waiting for the stack")
        if not wait_until(lambda: _stack_whole(stack), 240):
            injector.errors.append("the stack was not whole again 240 s after the last fault")
        recheck_all(jobs, stack.api_url, stack.headers, config.clients)
        sessions = _settled_sessions(stack, keys, config.session_timeout + 60)
        figures = evaluate(jobs, keys, sessions, injector.faults, seconds=seconds,
                           session_timeout=config.session_timeout)
        _say("secrets scan: Temporal history, Redis, database")
        canaries = harvester.stop() + key_canaries(stores, {k: v["protocol"] for k, v in keys.items()})
        scanner = Scanner(canaries)
        workflows = asyncio.run(scan_temporal(scanner, f"127.0.0.1:{stack.ports['temporal']}", stack.codec_key()))
        redis_keys = scan_redis(scanner, stack.ports["redis"])
        scan_postgres(scanner, stack.ports["db"])
        outcome = Outcome(config, figures, faults, injector.errors, None, keys, workflows, redis_keys,
                          data_dir=data_dir)
        for fault in injector.faults:
            if fault.recovered_at is not None:
                outcome.recovery.setdefault(fault.kind, []).append(fault.recovered_at - fault.killed_at)
        if config.schemathesis:
            outcome.schemathesis = _schemathesis(stack, config.schemathesis, data_dir)
        scan = scanner.result
    finally:
        leftovers = stack.stop()
    if outcome is None:
        raise RuntimeError(f"the chaos run did not finish; data kept in {data_dir}")
    _say("secrets scan: every file of the data dir (logs, Temporal and PostgreSQL files, node stores)")
    scanner.scan_files(data_dir)
    outcome.scan, outcome.leftover_pids = scan, leftovers
    if config.fuzz_scale:
        outcome.fuzz = _fuzz(config.fuzz_scale)
    if config.keep or outcome.violations:
        _say(f"data and logs kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return outcome


def _schemathesis(stack: ChaosStack, examples: int, data_dir: Path) -> dict[str, Any]:
    from tests.api.schemathesis_run import run as schemathesis_run

    result = schemathesis_run(stack.api_url, stack.token, examples=examples, work_dir=data_dir / "schemathesis",
                              timeout=3600)
    cases = result.report.get("test_cases") or {}
    failures = len(result.failures) + len(result.errors)
    return {"examples": examples, "cases": int(cases.get("generated", 0)),
            "failures": failures or (0 if result.ok else 1)}


def _fuzz(scale: int) -> dict[str, Any]:
    import os
    import re

    argv = [sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:cacheprovider",
            "--hypothesis-show-statistics"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "MPC_FUZZ_SCALE": str(scale)}, timeout=6 * 3600)
    executions = sum(int(a) + int(b) + int(c) for a, b, c in re.findall(
        r"(\d+) passing, (\d+) failing, and (\d+) invalid test cases", done.stdout))
    crashes = len(re.findall(r"^(?:FAILED|ERROR) ", done.stdout, re.M))
    return {"scale": scale, "executions": executions, "tests": len(re.findall(r"^tests/fuzz/\S+:$", done.stdout, re.M)),
            "crashes": crashes or (0 if done.returncode == 0 else 1)}


def table(outcome: Outcome) -> str:
    f, c = outcome.figures, outcome.config
    causes = ", ".join(f"{cause} {n}" for cause, n in f.failure_causes.most_common()) or "none"
    rows = [
        ("load held", f"{f.jobs} signature requests ({c.signatures} asked) at {c.clients} clients over "
                      f"{f.seconds:.0f} s, mixed FROST Ed25519 / FROST Taproot / GG20; accepted {f.accepted}, "
                      f"completed {f.completed}, failed {f.failed} ({causes}), never accepted {f.not_accepted}"),
        ("faults injected (kill -9; median s until serving again)",
         ", ".join(f"{k} {outcome.faults.get(k, 0)}"
                   + (f" ({statistics.median(outcome.recovery[k]):.1f} s)" if outcome.recovery.get(k) else "")
                   for k in KINDS) + f" (total {sum(outcome.faults.values())})"),
        ("lost (accepted, never ended)", f"{f.lost}; sessions left pending/running: {f.stuck}"),
        ("duplicated (one Idempotency-Key, two sessions or signatures)", str(f.duplicated)),
        ("nonce reuse (one R / r twice under a key)", str(f.reused)),
        ("signatures failing an independent verifier", str(f.unverified)),
        ("failures without a named cause / after SESSION_TIMEOUT", f"{f.unnamed_failures} / {f.late_failures}"),
        ("throughput overall / during faults (kill to 10 s after serving again)",
         f"{f.throughput:.2f} / {f.throughput_in_fault:.2f} signatures/s"),
        ("latency P50 / P99 overall", f"{f.p50:.2f} / {f.p99:.2f} s"),
        ("P99 under fault", f"{f.p99_in_fault:.2f} s ({f.in_fault_jobs} requests overlapping a fault)"),
    ]
    if outcome.scan is not None:
        s = outcome.scan
        sizes = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in s.sources.items())
        rows.append(("secrets scan (canaries: shares, nonces, Paillier)",
                     f"{len(s.hits)} hits; {s.canaries} canaries x encodings = {s.patterns} patterns over {sizes}; "
                     f"{outcome.temporal_workflows} workflow histories, {outcome.redis_keys} Redis keys"))
    if outcome.schemathesis:
        st = outcome.schemathesis
        rows.append(("schemathesis (examples per operation / cases / failures)",
                     f"{st['examples']} / {st['cases']} / {st['failures']}"))
    if outcome.fuzz:
        fz = outcome.fuzz
        rows.append(("fuzz of peer messages (executions / crashes)",
                     f"{fz['executions']} / {fz['crashes']} ({fz['tests']} properties over every peer-message "
                     f"decoder, MPC_FUZZ_SCALE={fz['scale']})"))
    lines = ["| measure | result |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)]
    return "\n".join(lines)


def _args(argv: list[str] | None) -> ChaosConfig:
    parser = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cycles", type=int, default=None,
                        help="fault cycles, each kind once per cycle (default: until the load ends; with a number, "
                             "the load goes on until the cycles are done)")
    parser.add_argument("--gap", type=float, nargs=2, default=(4.0, 15.0), metavar=("MIN", "MAX"),
                        help="seconds between a recovery and the next kill (uniform; default 4 15)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--round-timeout", type=float, default=10.0)
    parser.add_argument("--session-timeout", type=float, default=120.0)
    parser.add_argument("--schemathesis", type=int, default=0, metavar="EXAMPLES",
                        help="then run schemathesis with EXAMPLES per operation on the same stack (0: no)")
    parser.add_argument("--fuzz-scale", type=int, default=0, help="then run tests/fuzz at this MPC_FUZZ_SCALE (0: no)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs) afterwards")
    a = parser.parse_args(argv)
    seed = a.seed if a.seed is not None else random.randrange(2**31)
    return ChaosConfig(signatures=a.signatures, clients=a.clients, cycles=a.cycles, gap=tuple(a.gap), seed=seed,
                       round_timeout=a.round_timeout, session_timeout=a.session_timeout, schemathesis=a.schemathesis,
                       fuzz_scale=a.fuzz_scale, keep=a.keep)


def main(argv: list[str] | None = None) -> int:
    config = _args(argv)

    def _interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    _say(f"seed {config.seed}")
    started = time.monotonic()
    try:
        outcome = run(config)
    except KeyboardInterrupt:
        _say("interrupted")
        return 1
    print(f"\n{table(outcome)}\n", flush=True)
    for problem in outcome.figures.problems[:50]:
        _say(problem)
    for hit in (outcome.scan.hits if outcome.scan else [])[:50]:
        _say(f"canary {hit.canary} ({hit.encoding}) in {hit.source}")
    violations = outcome.violations
    _say(f"{'FAIL: ' + '; '.join(violations) if violations else 'PASS'} (seed {config.seed}, "
         f"{time.monotonic() - started:.0f} s in all)")
    return 1 if violations else 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
