"""The fault injector: kill -9, in turn and at random moments, one process of each kind; `mpc dev` restarts it.

Kinds, each cycle in a random order: a participant (one of the nodes, at random), the coordinator worker,
the API, the Temporal server, PostgreSQL, Redis and OpenBao. The whole process group gets SIGKILL (for
PostgreSQL the postmaster and its backends: a crashed container), with no warning. A fault is over when
the supervisor has started a new process under that name and it answers again (`recovered_at`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.chaos.stack import NODES, ChaosStack

KINDS = ("participant", "coordinator", "api", "temporal", "postgres", "redis", "openbao")
PROCESS_NAME = {"coordinator": "coordinator", "api": "api", "temporal": "temporal", "postgres": "postgres",
                "redis": "redis", "openbao": "openbao"}
PORT_OF = {"api": "http", "temporal": "temporal", "postgres": "db", "redis": "redis", "openbao": "vault"}


@dataclass
class Fault:
    kind: str
    process: str
    old_pid: int
    killed_at: float
    new_pid: int | None = None
    recovered_at: float | None = None

    @property
    def window(self) -> tuple[float, float]:
        return self.killed_at, self.recovered_at if self.recovered_at is not None else float("inf")


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class FaultInjector:
    def __init__(self, stack: ChaosStack, *, cycles: int | None, gap: tuple[float, float], seed: int,
                 recover_within: float = 180) -> None:
        self.stack = stack
        self.cycles = cycles  # None: until stopped
        self.gap = gap
        self.random = random.Random(seed)
        self.recover_within = recover_within
        self.faults: list[Fault] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-injector", daemon=True)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.recover_within + 30)

    def _run(self) -> None:
        cycle = 0
        while not self._stop.is_set() and (self.cycles is None or cycle < self.cycles):
            for kind in self.random.sample(KINDS, len(KINDS)):
                if self._stop.wait(self.random.uniform(*self.gap)):
                    return
                try:
                    self.inject(kind)
                except Exception as exc:  # recorded, reported and asserted by the run
                    self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            cycle += 1

    def inject(self, kind: str) -> Fault:
        name = self.random.choice(NODES) if kind == "participant" else PROCESS_NAME[kind]
        pid = self.stack.pids()[name]
        fault = Fault(kind, name, pid, time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        self.faults.append(fault)
        deadline = fault.killed_at + self.recover_within
        while time.monotonic() < deadline:
            new = self.stack.pids().get(name)
            if new is not None and new != pid and self._answers(kind):
                fault.new_pid, fault.recovered_at = new, time.monotonic()
                return fault
            time.sleep(0.2)
        raise TimeoutError(f"{name} not back {self.recover_within:.0f} s after kill -9 (old pid {pid})")

    def _answers(self, kind: str) -> bool:
        if kind == "api":
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.stack.api_url}/health", timeout=2).status_code == 200
            return False
        if kind in PORT_OF:
            return _accepts(self.stack.ports[PORT_OF[kind]])
        return True  # a worker: running again is all the supervisor promises; its rounds show the rest


def in_fault(start: float, end: float, faults: list[Fault], settle: float = 0.0) -> bool:
    """Whether [start, end] overlaps a fault window (from the kill until `settle` s after recovery)."""
    return any(start <= f.window[1] + settle and end >= f.window[0] for f in faults)


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return True
        time.sleep(interval)
    return False
