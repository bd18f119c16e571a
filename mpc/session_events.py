"""Session ends announced by PostgreSQL: the API answers a waiting caller when the session's row is final.

Why: a caller that waits (`?wait=true`) used to be answered when the workflow closed, one workflow task
and a history long-poll after the finishing transaction had committed the verified signature. The row is
the truth a caller is answered from either way, so the finishing transaction of a signature (the row
completed with the verified signature and its `key.sign` audit entry, activities/coordinator.py
`complete_signed`) also sends `NOTIFY mpc_session_ended, '<session id>'`, delivered at commit and never
for a rolled-back one. The API answers on that or on the workflow's end, whichever comes first. Sessions
that end otherwise (failures, keygen, reshare: steps may follow their row's update) are answered on the
workflow's end as before. Without the listener (a lost connection, a notification missed), the workflow's
end still answers: nothing depends on a notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "mpc_session_ended"
RECONNECT_SECONDS = 5.0  # after a lost listener connection, waits answer on the workflow's end meanwhile

log = logging.getLogger(__name__)


async def announce_end(db: AsyncSession, session_id: str) -> None:
    """In the transaction that makes the session's row final: the notification goes out at its commit."""
    await db.execute(text("SELECT pg_notify(:channel, :session_id)"), {"channel": CHANNEL, "session_id": session_id})


def asyncpg_dsn(database_url: str) -> str:
    """The service's SQLAlchemy URL (`postgresql+asyncpg://…`) as a plain libpq DSN for asyncpg."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class SessionEndListener:
    """One LISTEN connection of the API process; `ended(session_id)` resolves when that session ends."""

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._connection: Any = None
        self._connecting: asyncio.Task[None] | None = None
        self._last_attempt = 0.0
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    async def start(self) -> None:
        """Connect now (the app's start), so the first waits are already answered on notification."""
        self._last_attempt = time.monotonic()
        await self._connect()

    def ended(self, session_id: str) -> asyncio.Future[None]:
        """A future for the session's end notification (register it before the session can end; it may never
        resolve, e.g. without a connection: wait for it together with the workflow's end)."""
        self._ensure_connected()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(session_id, []).append(future)
        future.add_done_callback(lambda done: self._discard(session_id, done))
        return future

    def _discard(self, session_id: str, future: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(session_id)
        if waiting is not None:
            with contextlib.suppress(ValueError):
                waiting.remove(future)
            if not waiting:
                del self._waiters[session_id]

    def _notified(self, _connection: object, _pid: int, _channel: str, session_id: str) -> None:
        for future in list(self._waiters.get(session_id, [])):
            if not future.done():
                future.set_result(None)

    def _ensure_connected(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            return
        if self._connecting is not None and not self._connecting.done():
            return
        if time.monotonic() - self._last_attempt < RECONNECT_SECONDS:
            return
        self._last_attempt = time.monotonic()
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            connection = await asyncpg.connect(self._dsn, timeout=5)
            await connection.add_listener(CHANNEL, self._notified)
        except Exception as exc:  # waits answer on the workflow's end until a later attempt succeeds
            log.warning("session end listener unavailable: %s", type(exc).__name__)
            return
        self._connection = connection

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(BaseException):
                await self._connecting
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=2)
        for waiting in list(self._waiters.values()):
            for future in waiting:
                future.cancel()
