"""Service benchmark through the HTTP API: keygen time, sign latency and throughput, with and without
the nonce pool, and where the latency goes (Temporal versus protocol compute). Prints markdown tables.

One command, the whole table (starts and stops two `mpc dev` stacks on free ports, one after the other):

    .venv/bin/python bench/bench_service.py --signatures 100 --concurrency 4

- "pool": a stack with NONCE_POOL_TARGET=10 (the default): signing takes the pooled nonce commitments
  (one online round) while the pool lasts; it is refilled in the background after every signature.
- "no pool": a stack started with NONCE_POOL_TARGET=0: the pool stays empty, every signature runs
  the commitment round first (two online rounds). The `pool hit` column shows what really happened
  (sessions with total_rounds == 1).

Against a stack you started yourself: `--api-url URL --token-file FILE [--temporal-address HOST:PORT]`
(one run, labelled by the observed pool hits). Loopback only; every request has a timeout.

Split of the latency (sequential signatures, concurrency 1, so nothing queues): the workflow's own
Temporal history gives its wall time and the time inside activities (union of activity executions);
the rest is Temporal (task dispatch, workflow tasks, history writes). Protocol compute is the pure
`tss.frost` time on the critical path (one signer's commit and sign, aggregate and the final
verification), measured in-process here like bench/bench_frost.py; the rest of the activity time is
share unsealing (Vault transit), envelope crypto, the database and the worker itself.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402

from mpc.devstack.ports import free_port  # noqa: E402
from mpc.devstack.process import ManagedProcess, ServiceStartError  # noqa: E402
from mpc.verify import verify_signature  # noqa: E402

CHAIN_FOR = {"ed25519": "ed25519", "secp256k1": "schnorr", "secp256k1-tr": "bitcoin"}


@dataclass
class Target:
    label: str
    api_url: str
    token: str
    temporal_address: str | None
    process: ManagedProcess | None = None
    data_dir: Path | None = None


@dataclass
class Result:
    label: str
    curve: str
    keygen_ms: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    early: list[str] = field(default_factory=list)  # sessions for which ?wait=true returned 202 unfinished
    wall_s: float = 0.0
    seq: list[dict[str, float]] = field(default_factory=list)  # per sequential signature: the split
    activities: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))


# ---- dev stacks ---------------------------------------------------------------------------------

def start_dev_stack(label: str, pool_target: int, log_dir: Path) -> Target:
    data_dir = Path(tempfile.mkdtemp(prefix=f"mpc-bench-{label.replace(' ', '')}-"))
    ports = {name: free_port() for name in ("http", "temporal", "ui", "vault", "db", "redis")}
    argv = [sys.executable, "-m", "mpc", "dev", "--data-dir", str(data_dir)]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    env = {**os.environ, "NONCE_POOL_TARGET": str(pool_target)}
    env.pop("MPC_CONFIG", None)
    process = ManagedProcess(f"mpc-dev-{label}", argv, log_path=log_dir / f"mpc-dev-{label.replace(' ', '-')}.log",
                             env=env, cwd=ROOT)
    print(f"# starting mpc dev ({label}, NONCE_POOL_TARGET={pool_target}) in {data_dir}", file=sys.stderr)
    process.start()
    try:
        process.wait_until(lambda: "mpc dev is ready" in process.log_path.read_text(errors="replace"), 300, 0.5)
    except ServiceStartError:
        process.stop(timeout=120)
        raise
    token = (data_dir / "admin-token").read_text().strip()
    return Target(label, f"http://127.0.0.1:{ports['http']}", token, f"127.0.0.1:{ports['temporal']}", process,
                  data_dir)


# ---- through the API ------------------------------------------------------------------------------

def client(target: Target) -> httpx.Client:
    return httpx.Client(base_url=target.api_url, headers={"Authorization": f"Bearer {target.token}"}, timeout=180)


def keygen(http: httpx.Client, curve: str) -> tuple[dict[str, Any], float]:
    body = {"protocol": "frost", "curve": curve, "chain_type": CHAIN_FOR[curve], "threshold": 2, "total_nodes": 3,
            "allow_raw_digest": True}  # the bench signs bare digests (bitcoin keys sign only PSBTs by default)
    t0 = time.perf_counter()
    reply = http.post("/v1/keys", params={"wait": "true", "timeout": 120}, json=body)
    elapsed = (time.perf_counter() - t0) * 1000
    session = reply.json()
    if reply.status_code != 200 or session.get("status") != "completed":
        raise RuntimeError(f"keygen {curve} failed: HTTP {reply.status_code} {reply.text[:300]}")
    return session["key"], elapsed


def sign_once(http: httpx.Client, key: dict[str, Any], n: int, result: Result | None = None,
              ) -> tuple[float, dict[str, Any]]:
    digest = hashlib.sha256(f"bench {key['key_id']} {n} {time.time_ns()}".encode()).hexdigest()
    t0 = time.perf_counter()
    reply = http.post(f"/v1/keys/{key['key_id']}/sign", params={"wait": "true", "timeout": 120},
                      json={"digest": digest})
    session = reply.json()
    if reply.status_code == 202 and session.get("status") not in ("completed", "failed"):
        # ?wait=true answered although the session row is not final: the workflow ended without finishing the
        # row (seen: it started before the row was committed). Poll briefly, then count it as an error.
        if result is not None:
            result.early.append(f"{session['session_id']} ({session.get('status')})")
        deadline = time.monotonic() + 5
        while session.get("status") not in ("completed", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            session = http.get(f"/v1/sessions/{session['session_id']}").json()
        if session.get("status") != "completed":
            raise RuntimeError(f"session {session['session_id']} still {session.get('status')} after its wait")
        reply = httpx.Response(200)
    elapsed = (time.perf_counter() - t0) * 1000
    if reply.status_code != 200 or session.get("status") != "completed":
        raise RuntimeError(f"HTTP {reply.status_code}: {str(session.get('error') or reply.text)[:300]}")
    if not verify_signature(key["curve"], bytes.fromhex(key["verifying_key"]), bytes.fromhex(digest),
                            bytes.fromhex(session["signature"])):
        raise RuntimeError(f"signature of session {session['session_id']} does not verify")
    return elapsed, session


def sign_concurrently(target: Target, key: dict[str, Any], count: int, concurrency: int, result: Result) -> None:
    lock, next_job = threading.Lock(), iter(range(count))

    def worker() -> None:
        with client(target) as http:
            while True:
                with lock:
                    n = next(next_job, None)
                if n is None:
                    return
                try:
                    elapsed, session = sign_once(http, key, n, result)
                except (RuntimeError, httpx.HTTPError) as exc:
                    with lock:
                        result.errors.append(str(exc))
                    continue
                with lock:
                    result.latencies_ms.append(elapsed)
                    result.rounds.append(session["total_rounds"])

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - t0


# ---- Temporal history: where the workflow's time goes ------------------------------------------------

def union_ms(intervals: list[tuple[float, float]]) -> float:
    busy, end = 0.0, float("-inf")
    for begin, finish in sorted(intervals):
        if finish > end:
            busy += finish - max(begin, end)
            end = finish
    return busy


async def history_split(address: str, workflow_id: str) -> tuple[float, float, float, dict[str, tuple[float, float]]]:
    """Workflow wall ms, ms inside activities (union of executions), ms in workflow tasks (scheduled to
    completed) outside those, and per activity (schedule-to-start ms, execution ms)."""
    from temporalio.client import Client

    handle = (await Client.connect(address)).get_workflow_handle(workflow_id)
    events = (await handle.fetch_history()).events
    when = {e.event_id: e.event_time.ToMicroseconds() / 1000 for e in events}
    scheduled: dict[int, str] = {}
    started: dict[int, int] = {}
    intervals, tasks, per_activity = [], [], {}
    for e in events:
        kind = e.WhichOneof("attributes")
        if kind == "workflow_task_completed_event_attributes":
            tasks.append((when[e.workflow_task_completed_event_attributes.scheduled_event_id], when[e.event_id]))
        elif kind == "activity_task_scheduled_event_attributes":
            scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif kind == "activity_task_started_event_attributes":
            started[e.activity_task_started_event_attributes.scheduled_event_id] = e.event_id
        elif kind == "activity_task_completed_event_attributes":
            sched = e.activity_task_completed_event_attributes.scheduled_event_id
            begin = when[started[sched]]
            intervals.append((begin, when[e.event_id]))
            name = f"{scheduled[sched]}#{sched}"
            per_activity[name] = (begin - when[sched], when[e.event_id] - begin)
    wall = when[events[-1].event_id] - when[events[0].event_id]
    return wall, union_ms(intervals), union_ms(intervals + tasks) - union_ms(intervals), per_activity


def sign_sequentially(target: Target, key: dict[str, Any], count: int, result: Result) -> None:
    with client(target) as http:
        for n in range(count):
            try:
                elapsed, session = sign_once(http, key, 100_000 + n, result)
            except (RuntimeError, httpx.HTTPError) as exc:
                result.errors.append(f"sequential: {exc}")
                continue
            row = {"latency": elapsed, "duration": float(session["duration_ms"] or 0),
                   "rounds": session["total_rounds"]}
            if target.temporal_address:
                workflow_id = session.get("workflow_id") or f"sign-{session['session_id']}"
                wall, busy, tasks, acts = asyncio.run(history_split(target.temporal_address, workflow_id))
                row.update(wall=wall, busy=busy, tasks=tasks)
                for name, times in acts.items():
                    result.activities[name.split("#")[0]].append(times)
            result.seq.append(row)


# ---- protocol compute, in process (bench_frost.py style) ---------------------------------------------

def protocol_compute(curve: str, reps: int = 15) -> dict[str, float]:
    from bench_frost import run_timed

    from tss.frost import FrostDkg, KeyShare, aggregate, commit, get_ciphersuite, sign
    from tss.frost.taproot import TaprootTweak

    suite, ids = get_ciphersuite(curve), [1, 2, 3]
    out: dict[str, list[float]] = defaultdict(list)
    for rep in range(reps):
        states = {i: FrostDkg.initial_state(suite=curve, ssid=f"svc-{rep}".encode(), identifier=i, participants=ids,
                                            threshold=2) for i in ids}
        outs, per_party = run_timed(FrostDkg(), states)
        out["dkg"].append(per_party)
        shares = {i: KeyShare.from_bytes(o.result) for i, o in outs.items()}
        message, signers = os.urandom(32), [1, 2]
        taproot = TaprootTweak(None) if curve == "secp256k1-tr" else None
        t0 = time.perf_counter()
        pairs = {i: commit(suite, shares[i]) for i in signers}
        out["commit"].append((time.perf_counter() - t0) / len(signers))
        comms = [pairs[i][1] for i in signers]
        t0 = time.perf_counter()
        sig_shares = [sign(suite, shares[i], pairs[i][0], message, comms, taproot=taproot) for i in signers]
        out["sign"].append((time.perf_counter() - t0) / len(signers))
        t0 = time.perf_counter()
        aggregate(suite, shares[1].public, message, comms, sig_shares, taproot=taproot)  # verifies the result
        out["aggregate"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1000 for k, v in out.items()}


def authorisation_cost(reps: int = 200) -> dict[str, float]:
    """Per signature, the node-side checks of issue 9 in-process: the API signing the intent (local
    key; Vault transit adds its HTTP round trip), and on each signer parsing + verifying it and
    recording its id durably (two sealed create-exclusive writes, the first time per session)."""
    import secrets as rnd

    from activities.authorisation import IntentGate
    from mpc.intent_keys import LocalIntentSigner, TrustedIntentKeys
    from mpc.intents import Intent, KeyPolicy
    from mpc.keystore import LocalKeyWrapper, SecretStateStore
    from workflows.types import SessionIntent

    folder = Path(tempfile.mkdtemp(prefix="mpc-bench-intents-"))
    try:
        signer = LocalIntentSigner(folder / "api.pem")
        gate = IntentGate(TrustedIntentKeys(signer.public_keys),
                          SecretStateStore(folder / "state", LocalKeyWrapper(os.urandom(32)), "bench"))
        out: dict[str, list[float]] = defaultdict(list)
        for _ in range(reps):
            intent = Intent(rnd.token_hex(16), "sign", "key", 0, int(time.time()) + 60,
                            {"digest": rnd.token_hex(32), "signers": ["node-1", "node-2", "node-3"]})
            t0 = time.perf_counter()
            raw = intent.to_bytes()
            wire = SessionIntent(raw.hex(), signer.sign(raw))
            out["api issue"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            checked = gate.verify(wire, operation="sign", key_id="key", epoch=0, policy=KeyPolicy())
            out["node verify"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            gate.record(checked, workflow_id=rnd.token_hex(8), slot="node-1,node-2", session_id="s")
            out["node record"].append(time.perf_counter() - t0)
        return {k: statistics.median(v) * 1000 for k, v in out.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: list[Result], compute: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    lines = [f"Signatures: {args.signatures} per row at concurrency {args.concurrency}; keygen: median of "
             f"{args.keygens}; 2-of-3, FROST; times in ms. Load average at start: {args.load}.", "",
             "| mode | curve | keygen 2-of-3 | sign P50 | sign P95 | sign P99 | signatures/s | pool hit | errors |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        hits = sum(1 for x in r.rounds if x == 1)
        rate = len(r.latencies_ms) / r.wall_s if r.wall_s else float("nan")
        lines.append(f"| {r.label} | {r.curve} | {med(r.keygen_ms):.0f} | {pct(r.latencies_ms, 50):.0f} | "
                     f"{pct(r.latencies_ms, 95):.0f} | {pct(r.latencies_ms, 99):.0f} | {rate:.1f} | "
                     f"{hits}/{len(r.rounds)} | {len(r.errors)} |")
    lines += ["", f"Where a signature's time goes: medians of {args.split_samples} sequential signatures "
              "(concurrency 1), ms.", "",
              "| mode | curve | rounds | HTTP latency | session duration_ms | workflow wall (history) | "
              "in activities | Temporal: workflow tasks | Temporal: other (dispatch, history) | "
              "protocol compute (tss) | "
              "other activity work (Vault, envelopes, DB) |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        c = compute[r.curve]
        rounds = med([s["rounds"] for s in r.seq])
        tss_ms = c["sign"] + c["aggregate"] + (c["commit"] if rounds >= 2 else 0.0)
        wall = med([s.get("wall", float("nan")) for s in r.seq])
        busy = med([s.get("busy", float("nan")) for s in r.seq])
        tasks = med([s.get("tasks", float("nan")) for s in r.seq])
        lines.append(f"| {r.label} | {r.curve} | {rounds:.0f} | {med([s['latency'] for s in r.seq]):.0f} | "
                     f"{med([s['duration'] for s in r.seq]):.0f} | {wall:.0f} | {busy:.0f} | {tasks:.0f} | "
                     f"{wall - busy - tasks:.0f} | "
                     f"{tss_ms:.1f} | {busy - tss_ms:.0f} |")
    lines += ["", "Activities of one signature (sequential run): schedule-to-start (Temporal dispatch) and "
              "execution, median ms.", "",
              "| mode | curve | activity | per signature | schedule-to-start | execution |",
              "| --- | --- | --- | ---: | ---: | ---: |"]
    for r in results:
        for name, times in sorted(r.activities.items()):
            lines.append(f"| {r.label} | {r.curve} | {name} | {len(times) / max(1, len(r.seq)):.1f} | "
                         f"{med([t[0] for t in times]):.1f} | {med([t[1] for t in times]):.1f} |")
    lines += ["", "Protocol compute in process (tss.frost, per party, median ms; no network, storage or envelopes):",
              "", "| curve | DKG (3 rounds) | commit | sign share | aggregate + verify |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for curve, c in compute.items():
        lines.append(f"| {curve} | {c['dkg']:.2f} | {c['commit']:.3f} | {c['sign']:.3f} | {c['aggregate']:.3f} |")
    early = [f"{r.label}/{r.curve}: {e}" for r in results for e in r.early]
    if early:
        lines += ["", "`?wait=true` answered 202, session not final (polled 5 s more, then an error):",
                  *[f"- {e}" for e in early]]
    errors = [f"{r.label}/{r.curve}: {e}" for r in results for e in r.errors[:3]]
    if errors:
        lines += ["", "First errors:", *[f"- {e}" for e in errors]]
    return "\n".join(lines)


def bench_target(target: Target, args: argparse.Namespace) -> list[Result]:
    results = []
    for curve in args.curves:
        result = Result(target.label, curve)
        with client(target) as http:
            key = None
            for _ in range(args.keygens):
                key, elapsed = keygen(http, curve)
                result.keygen_ms.append(elapsed)
                time.sleep(args.settle)  # the pool stack fills the new key's pool in the background
            assert key is not None
            for n in range(2):  # warm-up (not measured): code paths, connections
                sign_once(http, key, 200_000 + n)
        time.sleep(args.settle)  # let the background refill top the pool up again
        print(f"# {target.label} {curve}: {args.signatures} signatures at concurrency {args.concurrency}",
              file=sys.stderr)
        sign_concurrently(target, key, args.signatures, args.concurrency, result)
        time.sleep(args.settle)
        sign_sequentially(target, key, args.split_samples, result)
        results.append(result)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", help="a running stack (default: start `mpc dev` stacks here)")
    parser.add_argument("--token-file", default=".data/dev/admin-token", help="with --api-url")
    parser.add_argument("--temporal-address", default=None, help="with --api-url: for the latency split")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--signatures", type=int, default=100, help="per mode and curve")
    parser.add_argument("--curves", type=lambda v: v.split(","), default=["ed25519", "secp256k1"])
    parser.add_argument("--pool", dest="modes", action="append_const", const="pool",
                        help="run the pool stack (default: both)")
    parser.add_argument("--no-pool", dest="modes", action="append_const", const="no pool",
                        help="run the stack without pool (default: both)")
    parser.add_argument("--pool-target", type=int, default=10, help="NONCE_POOL_TARGET of the pool stack")
    parser.add_argument("--keygens", type=int, default=3, help="keygens per mode and curve (median)")
    parser.add_argument("--split-samples", type=int, default=10, help="sequential signatures for the split")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between phases (pool refill)")
    parser.add_argument("--keep-data", action="store_true", help="keep the dev stacks' data dirs")
    parser.add_argument("--log-dir", default=None, help="mpc dev logs (default: a temporary directory)")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 64 or not 1 <= args.signatures <= 10_000:
        parser.error("--concurrency 1..64 and --signatures 1..10000")
    unknown = [c for c in args.curves if c not in CHAIN_FOR]
    if unknown:
        parser.error(f"unknown curve(s): {', '.join(unknown)}")
    args.modes = args.modes or ["pool", "no pool"]
    args.load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compute = {curve: protocol_compute(curve) for curve in args.curves}
    results: list[Result] = []
    if args.api_url:
        target = Target("given stack", args.api_url.rstrip("/"), Path(args.token_file).read_text().strip(),
                        args.temporal_address)
        results += bench_target(target, args)
    else:
        log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="mpc-bench-logs-"))
        for mode in args.modes:
            target = start_dev_stack(mode, args.pool_target if mode == "pool" else 0, log_dir)
            try:
                results += bench_target(target, args)
            finally:
                print(f"# stopping mpc dev ({mode}); logs in {log_dir}", file=sys.stderr)
                assert target.process is not None
                target.process.stop(timeout=120)  # SIGTERM: mpc dev stops its services in order
                if target.data_dir is not None:
                    shutil.copytree(target.data_dir / "logs", log_dir / mode.replace(" ", "-"), dirs_exist_ok=True)
                    if not args.keep_data:
                        shutil.rmtree(target.data_dir, ignore_errors=True)
    print(report(results, compute, args))
    cost = authorisation_cost()
    print("\nNode authorisation per signature (issue 9), medians of 200 in-process runs, ms: "
          + ", ".join(f"{k} {v:.3f}" for k, v in cost.items())
          + " (Vault transit adds one HTTP round trip to the API's signature and to each sealed record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
