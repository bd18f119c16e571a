"""A participant's low-priority worker processes: CPU work no request waits on, off the node's process.

Two kinds of work use one: pre-parameter generation (workers/preparams_filler.py) and the presigning
rounds of a GG20 pool refill (workers/background_rounds.py). Both are seconds of big-integer arithmetic
that holds the GIL; in the node's own process it would delay the rounds a waiting signature needs, and
a lower OS priority cannot help a thread of the same process (the signing thread would wait on the GIL
of a starved one). In a process of its own at an added niceness, the OS gives every request's work the
cores first.

The workers are started with ``spawn`` (forking a process that runs the Temporal SDK's threads is
unsafe), ignore Ctrl-C (stopping is the parent's business: `close` kills them), and inherit the
participant's RLIMIT_CORE of 0, so a crashing worker writes none of the secrets it holds to a core file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def lower_priority(niceness: int) -> None:
    """Worker initializer: lower priority by `niceness`, and leave Ctrl-C to the parent (it kills us)."""
    os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class NicedProcessPool:
    """`workers` spawned processes at `niceness` above the parent's, started on the first submit.

    After `close` (or a worker's death, after which the caller closes it) the next submit starts a new
    pool. Thread-safe: activities submit from their threads.
    """

    def __init__(self, *, workers: int, niceness: int) -> None:
        self.workers, self.niceness = max(1, workers), niceness
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """`fn` and its arguments must pickle: a module-level function and plain data."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                                 mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=lower_priority, initargs=(self.niceness,))
            return self._pool.submit(fn, *args)

    def worker_pids(self) -> list[int]:
        """The live worker processes (none before the first submit or after `close`)."""
        processes = getattr(self._pool, "_processes", None) or {}  # no public accessor before Python 3.14
        return [p.pid for p in list(processes.values()) if p.pid is not None and p.is_alive()]

    def close(self) -> None:
        """Kill the worker processes (work in flight is dropped) and reap them. Idempotent."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                process.join(timeout=5)
