"""Work started from an activity that the activity's answer does not wait for.

asyncio keeps only a weak reference to a task: one nobody holds may be garbage-collected before it ends.
The tasks started here are held until they finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

_running: set[asyncio.Future[Any]] = set()


def in_background(work: Awaitable[Any]) -> None:
    """Run `work` on the running loop without waiting for it; it handles (and logs) its own failures."""
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_running.discard)
