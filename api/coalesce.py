"""Coalescing of concurrent signature requests: one batch session for the requests that wait behind others.

Why: every signature session costs the Temporal server and the coordinator a fixed amount of work (a
workflow, its tasks, its history: ~90 ms of CPU per session on a 2-core machine, bench/README.md), far more
than the FROST arithmetic. A caller that sends many signatures at once for one key pays that per signature.
Here, a request for a key and caller with a session already running (or requests already waiting) does not
start its own: it waits, and when the running session ends, the requests waiting then and those that come
within `GATHER_SECONDS` start together as one batch session (one nonce per digest, one intent over the
list, one signature per request, each verified; api/sign_batching.py). A request with nothing of its key
and caller running starts at once, exactly as before, so a lone or sequential caller sees no change.

Each request keeps its own session row, id and audit entries; only the workflow is shared. This module is
the scheduling alone (pure asyncio); `launch` does the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

MAX_IN_FLIGHT = 2  # sessions per key and caller at a time: one batch gathers while another signs
MAX_BATCH = 256  # as the API's limit on `digests`
# Waiting requests start this long after a slot frees, so that the callers the finished session answered
# (who send again at once: a response, a new request, its checks and row, ~10 ms here) join them instead
# of starting a batch of their own; a caller with nothing of its key running never waits.
GATHER_SECONDS = 0.015

GroupKey = tuple[str, str]  # key id, caller
T = TypeVar("T")


@dataclass
class Waiting(Generic[T]):
    """A request recorded (its session row is committed, pending) and waiting for a batch to start it."""

    session_id: str
    digest: str
    started: asyncio.Future[T]


@dataclass
class Launched(Generic[T]):
    """What `launch` returns: each request's answer (`for_session`), and the session to wait for."""

    for_session: dict[str, T]
    finished: Awaitable[object]


@dataclass
class _Group(Generic[T]):
    in_flight: int = 0
    waiting: list[Waiting[T]] = field(default_factory=list)
    gathering: bool = False  # the waiting requests start GATHER_SECONDS from when this was set


class SignCoalescer(Generic[T]):
    """Per key and caller: at most `max_in_flight` sessions; requests beyond them start together."""

    def __init__(self, launch: Callable[[GroupKey, list[Waiting[T]]], Awaitable[Launched[T]]], *,
                 max_in_flight: int = MAX_IN_FLIGHT, max_batch: int = MAX_BATCH,
                 gather_seconds: float = GATHER_SECONDS) -> None:
        self._launch = launch
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._gather_seconds = gather_seconds
        self._groups: dict[GroupKey, _Group[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def reserve(self, group: GroupKey) -> Callable[[], None] | None:
        """A slot for a request that starts its own session now (nothing of its key and caller runs), or None:
        then `enqueue` it. Call the returned release once its session ended (or failed to start)."""
        state = self._groups.setdefault(group, _Group())
        if state.in_flight or state.waiting:  # busy: it starts with the others that come meanwhile
            return None
        state.in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release(group)

        return release

    async def enqueue(self, group: GroupKey, session_id: str, digest: str) -> T:
        """Wait for the batch that starts this request; its answer, or the launch's exception."""
        waiting = Waiting[T](session_id, digest, asyncio.get_running_loop().create_future())
        self._groups.setdefault(group, _Group()).waiting.append(waiting)
        self._start_waiting(group)
        return await asyncio.shield(waiting.started)  # a caller that goes away leaves its request in the batch

    def in_flight(self, group: GroupKey) -> int:
        state = self._groups.get(group)
        return state.in_flight if state else 0

    def _release(self, group: GroupKey) -> None:
        state = self._groups[group]
        state.in_flight -= 1
        self._start_waiting(group)
        if not state.in_flight and not state.waiting:
            del self._groups[group]

    def _start_waiting(self, group: GroupKey) -> None:
        state = self._groups[group]
        if not state.waiting or state.in_flight >= self._max_in_flight or state.gathering:
            return
        if self._gather_seconds <= 0:
            self._start_batches(group)
            return
        state.gathering = True
        asyncio.get_running_loop().call_later(self._gather_seconds, self._gathered, group)

    def _gathered(self, group: GroupKey) -> None:
        state = self._groups[group]
        state.gathering = False
        self._start_batches(group)

    def _start_batches(self, group: GroupKey) -> None:
        state = self._groups[group]
        while state.waiting and state.in_flight < self._max_in_flight:
            batch, state.waiting = state.waiting[:self._max_batch], state.waiting[self._max_batch:]
            state.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._run(group, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, group: GroupKey, batch: list[Waiting[T]]) -> None:
        try:
            try:
                launched = await self._launch(group, batch)
            except Exception as exc:  # every request of the batch gets the launch's error
                for waiting in batch:
                    if not waiting.started.done():
                        waiting.started.set_exception(exc)
                return
            for waiting in batch:
                if not waiting.started.done():
                    waiting.started.set_result(launched.for_session[waiting.session_id])
            with contextlib.suppress(Exception):  # its outcome is in its rows; here only the slot matters
                await launched.finished
        finally:
            self._release(group)
