"""Service benchmark through the HTTP API (issue 12, "Measure"): the issue's table for two commits back
to back on one machine in one run, and where a signature's time goes in each process.

    .venv/bin/python bench/bench_service.py --baseline main

For each side (the `--baseline` commit, checked out into a temporary git worktree and run with this
virtual environment, then the working tree) it starts `mpc dev` on free loopback ports and a temporary
data dir (3 participants, pre-parameter pools seeded from the test fixtures, so GG20 keygen never
generates primes), and measures, 2-of-3, every signature checked with an independent verifier:

- FROST Ed25519, pooled nonces: `--sequential` signatures one at a time (`?wait=true`), P50 / P99;
  `--concurrent-signatures` over `--concurrency` closed-loop clients, one digest each: signatures/s, P99;
  `--batches` batch requests of `--batch-size` digests (`digests`, one session): signatures/s (a commit
  without batch signing answers 422 and the row says "none").
- GG20 (with `--gg20`): keygen with filled pre-parameter pools (median of `--gg20-keygens`), sequential
  signatures, and a burst of `--gg20-burst` signatures over `--concurrency` clients.
- the latency split of the sequential signatures from the workflows' Temporal histories, and a
  per-process breakdown (`--profile-signatures` signatures sampled with py-spy; bench/process_profile.py).

Every process is stopped by its pid (SIGTERM to `mpc dev`, which stops its services), also on failure.
Against a stack already running: `--api-url URL --token-file FILE [--temporal-address HOST:PORT]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402

from mpc.devstack.ports import free_port  # noqa: E402
from mpc.devstack.process import ManagedProcess  # noqa: E402
from mpc.verify import verify_signature  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "ecdsa" / "preparams.jsonl"
NODES = ["node-1", "node-2", "node-3"]


@dataclass
class Target:
    label: str
    api_url: str
    token: str
    temporal_address: str | None
    process: ManagedProcess | None = None
    data_dir: Path | None = None
    db_port: int | None = None  # the stack's PostgreSQL (mpc dev's embedded one), for the presignature pool level


@dataclass
class Side:
    """Every figure of one commit."""

    label: str
    figures: dict[str, str] = field(default_factory=dict)
    seq: list[dict[str, float]] = field(default_factory=list)
    activities: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    profile: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ---- dev stacks ---------------------------------------------------------------------------------

def checkout(ref: str) -> Path:
    """A detached git worktree of `ref` in a temporary directory (removed by `drop_checkout`)."""
    folder = Path(tempfile.mkdtemp(prefix="mpc-bench-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), ref], check=True,
                   capture_output=True)
    return folder


def drop_checkout(folder: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False,
                   capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def seed_pools(data_dir: Path) -> None:
    lines = [line for line in FIXTURE.read_text().splitlines() if line.strip()]
    per_node = len(lines) // len(NODES)
    for i, node in enumerate(NODES):
        folder = data_dir / "nodes" / node / "shares"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / "preparams.jsonl"
        target.touch(mode=0o600)
        target.write_text("".join(f"{line}\n" for line in lines[i * per_node:(i + 1) * per_node]))


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")


def start_dev_stack(label: str, tree: Path, log_dir: Path, extra_env: dict[str, str], *, seed: bool = True) -> Target:
    """`seed`: pre-parameter pools from the test fixtures (False: the participants' own filler, or none)."""
    data_dir = Path(tempfile.mkdtemp(prefix="mpc-bench-"))
    if seed:
        seed_pools(data_dir)
    ports = {name: free_port() for name in ("http", "temporal", "ui", "vault", "db", "redis")}
    argv = [sys.executable, "-m", "mpc", "dev", "--data-dir", str(data_dir), "--participants", str(len(NODES))]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    if "--grpc-port" in "".join(p.read_text() for p in (tree / "mpc" / "cli").glob("*.py")):
        argv += ["--grpc-port", str(free_port())]  # its default 9090 may be taken by another stack
    env = {**os.environ, "PYTHONPATH": str(tree), **extra_env}  # the tree's code, this venv's packages
    env.pop("MPC_CONFIG", None)
    process = ManagedProcess(f"mpc-dev-{slug(label)}", argv, log_path=log_dir / f"mpc-dev-{slug(label)}.log", env=env,
                             cwd=tree)
    print(f"# starting mpc dev ({label}, {tree}) in {data_dir}", file=sys.stderr)
    process.log_path.unlink(missing_ok=True)  # "ready" must come from this run
    process.start()
    try:
        process.wait_until(lambda: "mpc dev is ready" in process.log_path.read_text(errors="replace"), 300, 0.5)
        token = (data_dir / "admin-token").read_text().strip()
    except BaseException:  # never leave a stack behind (its logs are kept in the log dir)
        process.stop(timeout=120)
        shutil.copytree(data_dir / "logs", log_dir / f"{slug(label)}-failed-start", dirs_exist_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    return Target(label, f"http://127.0.0.1:{ports['http']}", token, f"127.0.0.1:{ports['temporal']}", process,
                  data_dir, ports["db"])


# ---- through the API ------------------------------------------------------------------------------

def client(target: Target) -> httpx.Client:
    return httpx.Client(base_url=target.api_url, headers={"Authorization": f"Bearer {target.token}"}, timeout=300)


def keygen(http: httpx.Client, protocol: str, curve: str, chain: str) -> tuple[dict[str, Any], float]:
    body = {"protocol": protocol, "curve": curve, "chain_type": chain, "threshold": 2, "nodes": NODES,
            "allow_raw_digest": True}  # the bench signs bare digests (ethereum keys sign only transactions by default)
    t0 = time.perf_counter()
    reply = http.post("/v1/keys", params={"wait": "true", "timeout": 300}, json=body)
    elapsed = (time.perf_counter() - t0) * 1000
    session = reply.json()
    if reply.status_code != 200 or session.get("status") != "completed":
        raise RuntimeError(f"keygen {protocol}/{curve} failed: HTTP {reply.status_code} {reply.text[:300]}")
    return session["key"], elapsed


def _digest(key: dict[str, Any], n: int) -> str:
    return hashlib.sha256(f"bench {key['key_id']} {n} {time.time_ns()}".encode()).hexdigest()


def _final(http: httpx.Client, reply: httpx.Response) -> dict[str, Any]:
    session = reply.json()
    if reply.status_code not in (200, 202):
        raise RuntimeError(f"HTTP {reply.status_code}: {reply.text[:300]}")
    deadline = time.monotonic() + 10  # a 202 (the wait ran out): poll a little more
    while session.get("status") not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        session = http.get(f"/v1/sessions/{session['session_id']}").json()
    if session.get("status") != "completed":
        raise RuntimeError(f"session {session.get('session_id')} {session.get('status')}: {session.get('error')}")
    return session


def verified(key: dict[str, Any], digest: str, signature: str) -> bool:
    """FROST through mpc.verify; threshold ECDSA (r || s || v) with OpenSSL over the prehashed digest."""
    if key["protocol"] == "frost":
        return verify_signature(key["curve"], bytes.fromhex(key["verifying_key"]), bytes.fromhex(digest),
                                bytes.fromhex(signature))
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

    raw = bytes.fromhex(signature)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), bytes.fromhex(key["public_key"])).verify(
            encode_dss_signature(r, s), bytes.fromhex(digest), ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def sign_once(http: httpx.Client, key: dict[str, Any], n: int) -> tuple[float, dict[str, Any]]:
    digest = _digest(key, n)
    t0 = time.perf_counter()
    reply = http.post(f"/v1/keys/{key['key_id']}/sign", params={"wait": "true", "timeout": 120},
                      json={"digest": digest})
    session = _final(http, reply)
    elapsed = (time.perf_counter() - t0) * 1000
    if not verified(key, digest, session["signature"]):
        raise RuntimeError(f"signature of session {session['session_id']} does not verify")
    return elapsed, session


def sign_batch(http: httpx.Client, key: dict[str, Any], n: int, size: int) -> tuple[float, int] | None:
    """One batch request; (ms, signatures), or None when the commit has no batch signing (422)."""
    digests = [_digest(key, n * 1000 + i) for i in range(size)]
    t0 = time.perf_counter()
    reply = http.post(f"/v1/keys/{key['key_id']}/sign", params={"wait": "true", "timeout": 300},
                      json={"digests": digests})
    if reply.status_code == 422:
        return None
    session = _final(http, reply)
    elapsed = (time.perf_counter() - t0) * 1000
    signatures = session.get("signatures") or []
    if len(signatures) != size:
        raise RuntimeError(f"batch session {session['session_id']} returned {len(signatures)} of {size} signatures")
    for digest, signature in zip(digests, signatures, strict=True):
        if not verified(key, digest, signature):
            raise RuntimeError(f"a signature of batch session {session['session_id']} does not verify")
    return elapsed, len(signatures)


def closed_loop(target: Target, count: int, concurrency: int, job: Callable[[httpx.Client, int], float],
                errors: list[str]) -> tuple[list[float], float]:
    """`count` jobs over `concurrency` clients, each starting its next job when the last one answered.

    The clients are made before the clock starts: an httpx client takes 20-40 ms of CPU to build (its TLS
    context), which on this machine would be counted against the service in a burst of a few seconds."""
    lock, next_job, latencies = threading.Lock(), iter(range(count)), []
    clients = [client(target) for _ in range(concurrency)]

    def worker(http: httpx.Client) -> None:
        with http:
            while True:
                with lock:
                    n = next(next_job, None)
                if n is None:
                    return
                try:
                    elapsed = job(http, n)
                except (RuntimeError, httpx.HTTPError) as exc:
                    with lock:
                        errors.append(str(exc)[:300])
                    continue
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker, args=(http,)) for http in clients]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - t0


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
            per_activity[f"{scheduled[sched]}#{sched}"] = (begin - when[sched], when[e.event_id] - begin)
    wall = when[events[-1].event_id] - when[events[0].event_id]
    return wall, union_ms(intervals), union_ms(intervals + tasks) - union_ms(intervals), per_activity


# ---- one side -------------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_frost(target: Target, args: argparse.Namespace, side: Side) -> None:
    with client(target) as http:
        key, _ = keygen(http, "frost", "ed25519", "ed25519")
        time.sleep(args.settle)  # the pool fills in the background
        for n in range(3):
            sign_once(http, key, 900_000 + n)  # warm-up
        time.sleep(args.settle)
        latencies = []
        for n in range(args.sequential):
            try:
                elapsed, session = sign_once(http, key, n)
            except (RuntimeError, httpx.HTTPError) as exc:
                side.errors.append(f"sequential: {exc}")
                continue
            latencies.append(elapsed)
            row = {"latency": elapsed, "duration": float(session["duration_ms"] or 0),
                   "rounds": session["total_rounds"]}
            if target.temporal_address and n < args.split_samples:
                wall, busy, tasks, acts = asyncio.run(history_split(target.temporal_address, session["workflow_id"]))
                row.update(wall=wall, busy=busy, tasks=tasks)
                for name, times in acts.items():
                    side.activities[name.split("#")[0]].append(times)
            side.seq.append(row)
        side.figures["frost_seq"] = f"{pct(latencies, 50):.0f} / {pct(latencies, 99):.0f} ms"
        time.sleep(args.settle)

        def one(http: httpx.Client, n: int) -> float:
            return sign_once(http, key, 500_000 + n)[0]

        errors: list[str] = []
        lat, wall = closed_loop(target, args.concurrent_signatures, args.concurrency, one, errors)
        side.errors += errors[:3]
        side.figures["frost_conc"] = f"{len(lat) / wall:.1f}/s / {pct(lat, 99):.0f} ms"
        time.sleep(args.settle)
        batches, sigs, t0 = 0, 0, time.perf_counter()
        batch_ms: list[float] = []
        for n in range(args.batches):
            try:
                outcome = sign_batch(http, key, n, args.batch_size)
            except (RuntimeError, httpx.HTTPError) as exc:
                side.errors.append(f"batch: {exc}")
                continue
            if outcome is None:
                break
            batches, sigs = batches + 1, sigs + outcome[1]
            batch_ms.append(outcome[0])
        side.figures["frost_batch"] = (f"{sigs / (time.perf_counter() - t0):.0f}/s ({args.batch_size} per request, "
                                       f"P50 {pct(batch_ms, 50):.0f} ms)" if batches else "none")
        if batches and args.batch_clients > 1:
            time.sleep(args.settle)
            side.figures["frost_batch_clients"] = batch_clients(target, key, args, side)
        if args.profile_signatures:
            profile(target, http, key, args, side)


def batch_clients(target: Target, key: dict[str, Any], args: argparse.Namespace, side: Side) -> str:
    """`--batches` requests of `--batch-size` digests from `--batch-clients` clients at once: one client's
    session is on the signers while another's is aggregated on the coordinator."""
    def one(http: httpx.Client, n: int) -> float:
        outcome = sign_batch(http, key, 900 + n, args.batch_size)
        if outcome is None:
            raise RuntimeError("batch signing refused")
        return outcome[0]

    errors: list[str] = []
    lat, wall = closed_loop(target, args.batches * args.batch_clients, args.batch_clients, one, errors)
    side.errors += [f"batch clients: {e}" for e in errors[:3]]
    return f"{len(lat) * args.batch_size / wall:.0f}/s (P50 {pct(lat, 50):.0f} ms per request)" if lat else "none"


def profile(target: Target, http: httpx.Client, key: dict[str, Any], args: argparse.Namespace, side: Side) -> None:
    from process_profile import breakdown_table, profiled

    if target.process is None or target.process.pid is None:
        return
    count, t0 = args.profile_signatures, time.perf_counter()
    keep = Path(args.profile_dir) / slug(side.label) if args.profile_dir else None
    with profiled(target.process.pid, seconds=max(3.0, count * 0.5), keep=keep) as result:
        for n in range(count):
            sign_once(http, key, 700_000 + n)
        sampled = time.perf_counter() - t0
        time.sleep(max(0.0, max(3.0, count * 0.5) + 0.6 - sampled))  # py-spy's fixed duration
    side.profile = [f"{count} sequential FROST Ed25519 signatures in {sampled:.1f} s under py-spy ({side.label}); "
                    "ms per signature; CPU is /proc utime+stime over the sampling window.", "",
                    *breakdown_table(result, count)]


PRESIGN_TARGET = 16  # the bench's PRESIGN_POOL_TARGET: the sequential run and the burst come from the pool


def presign_level(target: Target, key_id: str) -> int | None:
    """Unclaimed presignatures of a key (the coordinator's table; None: a commit without the pool)."""
    if target.db_port is None:
        return None
    from sqlalchemy import text

    from mpc.db import create_engine

    async def read() -> int | None:
        engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{target.db_port}/mpc", pool_size=1)
        try:
            async with engine.connect() as db:
                found = await db.execute(text("SELECT to_regclass('gg20_presignatures') IS NOT NULL"))
                if not found.scalar_one():
                    return None
                level = await db.execute(text("SELECT count(*) FROM gg20_presignatures WHERE key_id = :k AND "
                                              "claimed_session_id IS NULL"), {"k": key_id})
                return int(level.scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def wait_for_presignatures(target: Target, key_id: str, want: int, timeout: float = 600,
                           settle: float = 15.0) -> float | None:
    """Seconds until the key's pool holds `want` presignatures; None: no pool, or its level stopped
    moving for `settle` seconds below `want` (no refill running: one starts when a sign leaves it at half)."""
    t0 = last_change = time.perf_counter()
    last = -1
    while time.perf_counter() - t0 < timeout:
        level = presign_level(target, key_id)
        if level is None:
            return None
        if level >= want:
            return time.perf_counter() - t0
        if level != last:
            last, last_change = level, time.perf_counter()
        elif time.perf_counter() - last_change > settle:
            return None
        time.sleep(0.2)
    return None


def bench_gg20(target: Target, args: argparse.Namespace, side: Side) -> None:
    with client(target) as http:
        keygens, refills = [], []
        key: dict[str, Any] | None = None
        for _ in range(args.gg20_keygens):
            key, elapsed = keygen(http, "gg20", "secp256k1", "ethereum")
            keygens.append(elapsed)
            # The keygen starts the refill of its first t holders' pool; measured before the next keygen, so
            # neither figure pays for the other.
            filled = wait_for_presignatures(target, key["key_id"], PRESIGN_TARGET)
            if filled is not None:
                refills.append(PRESIGN_TARGET / filled)
        assert key is not None
        side.figures["gg20_keygen"] = f"{med(keygens) / 1000:.1f} s"
        if refills:
            side.figures["gg20_presign_refill"] = f"{med(refills):.2f}/s (pool of {PRESIGN_TARGET}, empty to full)"
        time.sleep(args.settle)
        latencies = []
        for n in range(args.gg20_sequential):
            try:
                latencies.append(sign_once(http, key, 810_000 + n)[0])
            except (RuntimeError, httpx.HTTPError) as exc:
                side.errors.append(f"gg20 sequential: {exc}")
        pooled = " from the pool" if refills else ""
        side.figures["gg20_seq"] = f"{pct(latencies, 50):.0f} ms{pooled} (min {min(latencies, default=0):.0f})"
        if refills:  # the burst starts from a full pool again
            wait_for_presignatures(target, key["key_id"], PRESIGN_TARGET)

        def one(http: httpx.Client, n: int) -> float:
            return sign_once(http, key, 820_000 + n)[0]

        errors: list[str] = []
        lat, wall = closed_loop(target, args.gg20_burst, args.concurrency, one, errors)
        side.errors += errors[:3]
        side.figures["gg20_burst"] = f"{len(lat) / wall:.1f}/s (P99 {pct(lat, 99) / 1000:.1f} s)"


def bench_side(target: Target, args: argparse.Namespace) -> Side:
    side = Side(target.label)
    bench_frost(target, args, side)
    if args.gg20:
        bench_gg20(target, args, side)
    return side


# ---- report ---------------------------------------------------------------------------------------

ROWS = [
    ("frost_seq", "FROST sign, pooled nonces, sequential `?wait=true`: P50 / P99", "<= 40 / 120 ms"),
    ("frost_conc", "FROST sign, {c} concurrent clients, one digest each: throughput / P99", ">= 60/s / 400 ms"),
    ("frost_batch", "FROST batch: up to 256 digests in one request, one session, one round", ">= 300 signatures/s"),
    ("frost_batch_clients", "FROST batch, {b} clients sending batches at once", ">= 300 signatures/s"),
    ("gg20_seq", "GG20 sign, sequential: P50", "<= 80 ms (from a presignature pool)"),
    ("gg20_burst", "GG20 burst, {c} clients", ">= 30/s while the pool lasts"),
    ("gg20_presign_refill", "GG20 presignature refill, sustained", ">= 2/s per key"),
    ("gg20_keygen", "GG20 keygen with filled pre-parameter pools", "<= 4 s"),
]


def report(sides: list[Side], args: argparse.Namespace) -> str:
    head = " | ".join(s.label for s in sides)
    lines = [f"2-of-3 through the HTTP API on `mpc dev`, one 2-core machine; load average at start {args.load}. "
             f"Sequential: {args.sequential} signatures; concurrent: {args.concurrent_signatures} signatures; batch: "
             f"{args.batches} requests of {args.batch_size}.", "",
             f"| figure | target | {head} |", "| --- | ---: | " + " | ".join("---:" for _ in sides) + " |"]
    for key, name, target in ROWS:
        if key == "frost_batch_clients" and args.batch_clients < 2:
            continue
        cells = " | ".join(s.figures.get(key, "not measured") for s in sides)
        lines.append(f"| {name.format(c=args.concurrency, b=args.batch_clients)} | {target} | {cells} |")
    lines += ["", f"Where a sequential FROST signature's time goes (medians of {args.split_samples}), ms:", "",
              "| commit | rounds | HTTP latency | session duration_ms | workflow wall (history) | in activities | "
              "workflow tasks | Temporal other (dispatch, history) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in sides:
        rows = [r for r in s.seq if "wall" in r]
        wall, busy, tasks = (med([r[k] for r in rows]) for k in ("wall", "busy", "tasks"))
        lines.append(f"| {s.label} | {med([r['rounds'] for r in s.seq]):.0f} | {med([r['latency'] for r in rows]):.0f} "
                     f"| {med([r['duration'] for r in rows]):.0f} | {wall:.0f} | {busy:.0f} | {tasks:.0f} | "
                     f"{wall - busy - tasks:.0f} |")
    lines += ["", "Activities of one sequential signature: schedule-to-start and execution, median ms.", "",
              "| commit | activity | per signature | schedule-to-start | execution |",
              "| --- | --- | ---: | ---: | ---: |"]
    for s in sides:
        for name, times in sorted(s.activities.items()):
            per = len(times) / max(1, len([r for r in s.seq if "wall" in r]))
            lines.append(f"| {s.label} | {name} | {per:.1f} | {med([t[0] for t in times]):.1f} | "
                         f"{med([t[1] for t in times]):.1f} |")
    for s in sides:
        if s.profile:
            lines += ["", *s.profile]
    errors = [f"{s.label}: {e}" for s in sides for e in s.errors[:5]]
    if errors:
        lines += ["", "Errors:", *[f"- {e}" for e in errors]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=None, help="git ref to measure first (e.g. main)")
    parser.add_argument("--api-url", help="a running stack (default: start `mpc dev` stacks here)")
    parser.add_argument("--token-file", default=".data/dev/admin-token", help="with --api-url")
    parser.add_argument("--temporal-address", default=None, help="with --api-url: for the latency split")
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--split-samples", type=int, default=10, help="sequential signatures split by history")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--concurrent-signatures", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-clients", type=int, default=1,
                        help="above 1: also a row with this many clients sending batches at once")
    parser.add_argument("--gg20", action="store_true", help="also the GG20 rows (minutes)")
    parser.add_argument("--gg20-keygens", type=int, default=2)
    parser.add_argument("--gg20-sequential", type=int, default=5)
    parser.add_argument("--gg20-burst", type=int, default=8)
    parser.add_argument("--profile-signatures", type=int, default=20, help="0: no py-spy breakdown")
    parser.add_argument("--profile-dir", default=None, help="keep py-spy's raw stacks here")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between phases (pool refill)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the stacks (repeatable)")
    parser.add_argument("--log-dir", default=None, help="mpc dev logs (default: a temporary directory)")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 64 or not 1 <= args.batch_size <= 256:
        parser.error("--concurrency 1..64, --batch-size 1..256")
    args.load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return args


def run_stack(label: str, tree: Path, args: argparse.Namespace, log_dir: Path) -> Side:
    extra = {"PRESIGN_POOL_TARGET": str(PRESIGN_TARGET), **dict(item.split("=", 1) for item in args.env)}
    target = start_dev_stack(label, tree, log_dir, extra)
    try:
        return bench_side(target, args)
    finally:
        print(f"# stopping mpc dev ({label}); logs in {log_dir}", file=sys.stderr)
        assert target.process is not None
        target.process.stop(timeout=120)
        if target.data_dir is not None:
            shutil.copytree(target.data_dir / "logs", log_dir / slug(label), dirs_exist_ok=True)
            shutil.rmtree(target.data_dir, ignore_errors=True)


def head_label(tree: Path, ref: str = "HEAD") -> str:
    out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", ref], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("+changes" if dirty and tree == ROOT else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sides: list[Side] = []
    if args.api_url:
        target = Target("given stack", args.api_url.rstrip("/"), Path(args.token_file).read_text().strip(),
                        args.temporal_address)
        sides.append(bench_side(target, args))
    else:
        log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="mpc-bench-logs-"))
        if args.baseline:
            tree = checkout(args.baseline)
            try:
                sides.append(run_stack(f"{args.baseline} ({head_label(tree)})", tree, args, log_dir))
            finally:
                drop_checkout(tree)
        sides.append(run_stack(f"this commit ({head_label(ROOT)})", ROOT, args, log_dir))
    print(report(sides, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
