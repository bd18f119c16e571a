"""The load: C clients signing N digests over a few keys, as a careful real client would.

Each request has its own digest and Idempotency-Key. A client retries the POST with the same key and body
on anything transient (connection refused or reset, 5xx, 429, 409 for a request in flight or nodes
momentarily offline) until it holds a session id ("accepted"), then follows the session until it ends
(`?wait=true` for even jobs, polling GET /v1/sessions/{id} for odd ones; a lost connection means
asking again, the POST with the same Idempotency-Key included). Every session id and signature the client
is ever shown for a request is recorded, so a second session or a second signature for one key shows up.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

TRANSIENT_CODES = {"duplicate_request", "too_many_sessions", "temporal_unavailable", "nodes_offline",
                   "not_enough_online_nodes", "vault_unavailable", "internal", "service_unavailable"}
"""Error codes a client retries (the same request, same Idempotency-Key): nothing was started."""


@dataclass
class Job:
    index: int
    key_id: str
    protocol: str
    digest: str
    idempotency_key: str
    first_try: float = 0.0
    accepted_at: float | None = None
    ended_at: float | None = None
    session_ids: set[str] = field(default_factory=set)
    signatures: set[str] = field(default_factory=set)
    status: str = "not accepted"
    error: dict[str, Any] | None = None
    refusal: str | None = None  # a non-transient 4xx that ended the request before acceptance
    posts: int = 0

    @property
    def body(self) -> dict[str, str]:
        return {"digest": self.digest}

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed")

    @property
    def latency(self) -> float | None:
        return self.ended_at - self.first_try if self.ended_at is not None else None


def make_jobs(run_id: str, keys: list[tuple[str, str]], count: int, start: int = 0) -> list[Job]:
    """Jobs `start`..`start+count-1`, keys in turn (so the protocols mix evenly in time)."""
    jobs = []
    for i in range(start, start + count):
        key_id, protocol = keys[i % len(keys)]
        digest = hashlib.sha256(f"chaos {run_id} {i}".encode()).hexdigest()
        jobs.append(Job(i, key_id, protocol, digest, f"chaos-{run_id}-{i}"))
    return jobs


class Client:
    """One client thread's HTTP calls; `deadline_accept` bounds retries before acceptance, `session_end`
    how long an accepted session may take to end before the client stops waiting (it is then lost)."""

    def __init__(self, base_url: str, headers: dict[str, str], *, accept_within: float, session_end: float) -> None:
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(40, connect=5))
        self.accept_within = accept_within
        self.session_end = session_end

    def close(self) -> None:
        self.http.close()

    def _post(self, job: Job, wait: bool) -> tuple[int, dict[str, Any]] | None:
        job.posts += 1
        params = {"wait": "true", "timeout": "30"} if wait else {}
        try:
            reply = self.http.post(f"/v1/keys/{job.key_id}/sign", params=params, json=job.body,
                                   headers={"Idempotency-Key": job.idempotency_key})
            body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
            return reply.status_code, body
        except (httpx.HTTPError, ValueError):
            return None

    def _record(self, job: Job, session: dict[str, Any], *, final: bool = True) -> None:
        if session.get("session_id"):
            job.session_ids.add(session["session_id"])
        if session.get("signature"):
            job.signatures.add(session["signature"])
        if final and session.get("status") in ("completed", "failed") and not job.ended:
            job.status, job.error, job.ended_at = session["status"], session.get("error"), time.monotonic()

    def run(self, job: Job) -> None:
        job.first_try = time.monotonic()
        wait = job.index % 2 == 0
        pause = 0.2
        session_id = None
        while session_id is None:
            answer = self._post(job, wait)
            if answer is not None:
                status, body = answer
                code = (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None
                if status in (200, 202) and body.get("session_id"):
                    session_id = body["session_id"]
                    job.accepted_at, job.status = time.monotonic(), "accepted"
                    self._record(job, body)
                    break
                if 400 <= status < 500 and status != 429 and code not in TRANSIENT_CODES:
                    job.refusal = f"{status} {code}"
                    return
            if time.monotonic() - job.first_try > self.accept_within:
                job.refusal = "gave up: not accepted in time"
                return
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 1.6, 3.0)
        self._follow(job, session_id, wait)

    def _follow(self, job: Job, session_id: str, wait: bool) -> None:
        assert job.accepted_at is not None
        while not job.ended and time.monotonic() - job.accepted_at < self.session_end:
            if wait:  # the same POST again: the Idempotency-Key answers with the same session
                answer = self._post(job, wait=True)
                if answer is not None and answer[0] in (200, 202):
                    self._record(job, answer[1])
                else:
                    time.sleep(0.5)
                continue
            try:
                reply = self.http.get(f"/v1/sessions/{session_id}")
                if reply.status_code == 200:
                    self._record(job, reply.json())
            except (httpx.HTTPError, ValueError):
                pass
            if not job.ended:
                time.sleep(0.3)
        if not job.ended:
            job.status = "lost"

    def recheck(self, job: Job) -> None:
        """After the run: the same request once more must name the same session and signature."""
        for _ in range(20):
            answer = self._post(job, wait=False)
            if answer is not None and answer[0] in (200, 202):
                self._record(job, answer[1], final=False)  # an outcome seen only now does not undo "lost"
                return
            time.sleep(1)


def run_load(jobs: list[Job], base_url: str, headers: dict[str, str], *, clients: int, accept_within: float,
             session_end: float, more: Any = None) -> float:
    """Run `jobs` on `clients` threads; `more()` may hand out extra jobs (None: no more). Returns seconds."""
    queue = list(jobs)
    lock = threading.Lock()

    def next_job() -> Job | None:
        with lock:
            if queue:
                return queue.pop(0)
            extra = more() if more else None
            if extra is not None:
                jobs.append(extra)
            return extra

    def worker() -> None:
        client = Client(base_url, headers, accept_within=accept_within, session_end=session_end)
        try:
            while (job := next_job()) is not None:
                client.run(job)
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, name=f"client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def recheck_all(jobs: list[Job], base_url: str, headers: dict[str, str], clients: int) -> None:
    accepted = [j for j in jobs if j.accepted_at is not None]
    lock = threading.Lock()

    def worker() -> None:
        client = Client(base_url, headers, accept_within=60, session_end=60)
        try:
            while True:
                with lock:
                    if not accepted:
                        return
                    job = accepted.pop()
                client.recheck(job)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
