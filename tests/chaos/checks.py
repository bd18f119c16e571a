"""What the run asserts, computed from the clients' records and from the platform's own session list.

- lost: accepted by a client and never seen to end (completed or failed) within SESSION_TIMEOUT and a margin;
  also any session row of the chaos keys still pending or running at the end ("stuck");
- duplicated: one Idempotency-Key answered with two session ids or two signatures, or two sessions on
  one key for one digest (every request has its own digest, so a second session is a second execution);
- nonce reuse: two signatures under one key with one R (Schnorr: R or its x-coordinate; ECDSA: r),
  over every completed session of the key, including any the clients never saw;
- unverified: completed signatures an independent verifier refuses (OpenSSL and libsodium for Ed25519,
  libsecp256k1 BIP-340 for Taproot, libsecp256k1 recovery, OpenSSL and eth-account for ECDSA);
- failed: each failure must carry a named cause (error code) and end within SESSION_TIMEOUT.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos.faults import Fault, in_fault
from tests.chaos.load import Job
from tests.integration.helpers import check_signature
from tests.integration.test_ecdsa_e2e import check_ecdsa_signature


def all_sessions(http: httpx.Client, key_id: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = []
    while True:
        page = http.get("/v1/sessions", params={"key_id": key_id, "limit": 500, "offset": len(sessions)}).json()
        sessions += page["sessions"]
        if len(sessions) >= page["total"] or not page["sessions"]:
            return sessions


def r_value(protocol: str, signature: bytes) -> bytes:
    """The nonce commitment in a signature: R (Ed25519), x(R) (BIP-340), r (ECDSA), each its first 32 bytes."""
    return signature[:32]


def verifies(key: dict[str, Any], digest: str, signature: str) -> bool:
    try:
        if key["protocol"] in ("gg18", "gg20"):
            check_ecdsa_signature(key, bytes.fromhex(digest), signature)
        else:
            check_signature(key, digest, signature)
        return True
    except (AssertionError, ValueError, TypeError, Exception):
        return False


@dataclass
class Figures:
    jobs: int = 0
    accepted: int = 0
    completed: int = 0
    failed: int = 0
    not_accepted: int = 0
    lost: int = 0
    stuck: int = 0
    duplicated: int = 0
    reused: int = 0
    unverified: int = 0
    unnamed_failures: int = 0
    late_failures: int = 0
    seconds: float = 0.0
    throughput: float = 0.0
    throughput_in_fault: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    p99_in_fault: float = 0.0
    in_fault_jobs: int = 0
    failure_causes: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


FAULT_SETTLE = 10.0
"""A fault's period: from the kill until this many seconds after the process serves again (sessions in flight
at the kill finish or fail in that time). "During faults" figures count requests overlapping such a period."""


def _union(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def evaluate(jobs: list[Job], keys: dict[str, dict[str, Any]], sessions: dict[str, list[dict[str, Any]]],
             faults: list[Fault], *, seconds: float, session_timeout: float) -> Figures:
    f = Figures(jobs=len(jobs), seconds=seconds)
    latencies, fault_latencies = [], []
    for job in jobs:
        if job.accepted_at is None:
            f.not_accepted += 1
            f.refusals[job.refusal or "unknown"] += 1
            f.problems.append(f"job {job.index} not accepted: {job.refusal}")
            continue
        f.accepted += 1
        if len(job.session_ids) > 1 or len(job.signatures) > 1:
            f.duplicated += 1
            f.problems.append(f"job {job.index}: {len(job.session_ids)} sessions, {len(job.signatures)} signatures "
                              f"for Idempotency-Key {job.idempotency_key}")
        if job.status == "completed":
            f.completed += 1
        elif job.status == "failed":
            f.failed += 1
            error = job.error or {}
            cause = f"{error.get('code')}" + (f" ({error['node']})" if error.get("node") else "")
            f.failure_causes[cause] += 1
            if not error.get("code"):
                f.unnamed_failures += 1
                f.problems.append(f"job {job.index} failed without a named cause: {job.error}")
        else:
            f.lost += 1
            f.problems.append(f"job {job.index} accepted and never ended (sessions {sorted(job.session_ids)})")
        if job.ended and job.latency is not None:
            latencies.append(job.latency)
            if in_fault(job.first_try, job.ended_at or job.first_try, faults, settle=FAULT_SETTLE):
                fault_latencies.append(job.latency)
    f.in_fault_jobs = len(fault_latencies)

    by_digest = {(job.key_id, job.digest): job for job in jobs}
    for key_id, rows in sessions.items():
        key = keys[key_id]
        digests = Counter(r["message_hash"] for r in rows if r["operation"] == "sign")
        for digest, count in digests.items():
            if count > 1:
                f.duplicated += 1
                f.problems.append(f"key {key_id[:8]}: {count} sessions for digest {digest[:16]}")
        r_seen: dict[bytes, list[str]] = defaultdict(list)
        for row in rows:
            if row["operation"] != "sign":
                continue
            if row["status"] in ("pending", "running"):
                f.stuck += 1
                f.problems.append(f"session {row['session_id']} still {row['status']} at the end")
                continue
            if row["status"] == "failed":
                duration = (row.get("duration_ms") or 0) / 1000
                if duration > session_timeout + 5:
                    f.late_failures += 1
                    f.problems.append(f"session {row['session_id']} failed after {duration:.0f} s")
                continue
            if row["status"] != "completed" or not row.get("signature"):
                continue
            signature = bytes.fromhex(row["signature"])
            r_seen[r_value(key["protocol"], signature)].append(row["session_id"])
            if not verifies(key, row["message_hash"], row["signature"]):
                f.unverified += 1
                f.problems.append(f"session {row['session_id']}: signature fails the independent verifier")
            job = by_digest.get((key_id, row["message_hash"]))
            if job is not None and job.signatures and row["signature"] not in job.signatures:
                f.duplicated += 1
                f.problems.append(f"job {job.index}: platform holds a signature the client was not shown")
        for r, owners in r_seen.items():
            if len(owners) > 1:
                f.reused += 1
                f.problems.append(f"key {key_id[:8]}: R/r {r.hex()[:16]} in {len(owners)} signatures {owners}")
    f.throughput = f.completed / seconds if seconds else 0.0
    windows = _union([(x.window[0], min(x.window[1], x.killed_at + seconds) + FAULT_SETTLE) for x in faults])
    fault_time = sum(end - start for start, end in windows)
    completed_in_fault = sum(1 for j in jobs if j.status == "completed" and j.ended_at is not None
                             and any(start <= j.ended_at <= end for start, end in windows))
    f.throughput_in_fault = completed_in_fault / fault_time if fault_time > 0 else 0.0
    f.p50, f.p99, f.p99_in_fault = _percentile(latencies, 0.5), _percentile(latencies, 0.99), _percentile(
        fault_latencies, 0.99)
    return f


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
