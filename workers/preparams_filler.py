"""Keeps a participant's sealed pre-parameter pool at PREPARAMS_POOL_TARGET (issue 12 part 5).

Generating one set (two Blum primes and two safe primes of half the modulus size) is CPU-bound work of
seconds to minutes, so it never runs on a request's path or on the event loop: a process pool makes the
sets, and its workers lower their own priority first (`os.nice`), so a keygen or a signature on the same
cores wins every time. The parent validates each set in full and seals it as a one-time record exactly as
an imported file is (`activities.ecdsa_node.seal_preparams`): a set is never on disk in plain text and
never logged. It crosses from the worker to the parent through the pool's pipe (two processes of the
same user on one machine), and the workers inherit the participant's RLIMIT_CORE of 0 (set before the
filler starts), so a crashing worker writes no core file either.

The filler polls the pool level (a directory listing) every `poll_interval` seconds, so a keygen's take
is refilled soon after. Stopping kills the worker processes: a set being generated is lost, nothing is
half-written (sealing is an atomic write). The processes are a `workers.niced_pool.NicedProcessPool`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from activities.ecdsa_node import preparams_level, seal_preparams
from mpc.keystore import SecretStateStore
from tss.errors import TssError
from tss.paillier.preparams import generate_preparams
from workers.niced_pool import NicedProcessPool

log = logging.getLogger("mpc.participant.preparams")

NICENESS = 19
"""Added to the workers' niceness: the lowest priority, so protocol rounds always come first."""
POLL_INTERVAL = 2.0
"""Seconds between two looks at the pool level when it is full (and the back-off after a failure)."""


def generate_preparams_line(bits: int) -> str:
    """One fresh pre-parameter set in its persisted form (runs in a pool worker)."""
    return generate_preparams(bits).to_json()


class PreParamsFiller:
    """Fills `state`'s pre-parameter pool up to `target` sets with `workers` niced processes.

    `generate` makes one set as a JSON line from a modulus size; it must be a picklable module-level
    function (tests inject a fast one). `generated` counts the sets this filler sealed.
    """

    def __init__(self, state: SecretStateStore, *, target: int, workers: int = 1, bits: int = 2048,
                 niceness: int = NICENESS, generate: Callable[[int], str] = generate_preparams_line,
                 poll_interval: float = POLL_INTERVAL) -> None:
        self.state = state
        self.target, self.workers, self.bits = target, max(1, workers), bits
        self.niceness, self.generate, self.poll_interval = niceness, generate, poll_interval
        self.generated = 0
        self._pool = NicedProcessPool(workers=self.workers, niceness=niceness)

    def __repr__(self) -> str:
        return f"PreParamsFiller(target={self.target}, workers={self.workers}, bits={self.bits})"

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the pool at its target until `stop` is set; then kill the worker processes."""
        if self.target <= 0:
            log.info("pre-parameter filler disabled (PREPARAMS_POOL_TARGET=0)")
            return
        stopped = asyncio.ensure_future(stop.wait())
        pending: set[asyncio.Future[str]] = set()
        try:
            while not stop.is_set():
                level = await asyncio.to_thread(preparams_level, self.state)
                missing = self.target - level - len(pending)
                for _ in range(max(0, min(missing, self.workers - len(pending)))):
                    pending.add(asyncio.wrap_future(self._submit()))
                waiting: set[asyncio.Future[Any]] = {*pending, stopped}
                done, _ = await asyncio.wait(waiting, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    if future is stopped:
                        continue
                    pending.discard(future)
                    if not await self._seal(future):
                        await _sleep_or_stop(stop, self.poll_interval)
        finally:
            stopped.cancel()
            for future in pending:
                future.cancel()
            await asyncio.to_thread(self.close)

    def _submit(self) -> Future[str]:
        return self._pool.submit(self.generate, self.bits)

    async def _seal(self, future: asyncio.Future[Any]) -> bool:
        """Validate and seal one generated set; False after a failure (the caller backs off)."""
        try:
            line = future.result()
        except BrokenProcessPool:
            log.error("a pre-parameter worker process died; starting a new pool")
            await asyncio.to_thread(self.close)
            return False
        except Exception as exc:  # a worker's failure must not stop the filler
            log.warning("pre-parameter generation failed: %s", type(exc).__name__)
            return False
        try:
            added = await asyncio.to_thread(seal_preparams, self.state, line)
        except (TssError, ValueError) as exc:
            log.error("generated pre-parameters failed validation and were discarded: %s", type(exc).__name__)
            return False
        except Exception as exc:  # e.g. Vault unreachable: nothing sealed, try later
            log.warning("could not seal generated pre-parameters: %s", type(exc).__name__)
            return False
        if added:
            self.generated += 1
            log.info("pre-parameter set generated and sealed", extra={"node_id": self.state.node_id})
        return True

    def worker_pids(self) -> list[int]:
        """The pool's live worker processes (none before the first generation or after `close`)."""
        return self._pool.worker_pids()

    def close(self) -> None:
        """Kill the worker processes (a generation in flight is dropped) and reap them. Idempotent."""
        self._pool.close()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
