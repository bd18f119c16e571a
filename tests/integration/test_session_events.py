"""Session ends announced at commit (mpc/session_events.py), on the real PostgreSQL.

A waiting caller is answered on the announcement of the signature's finishing transaction: it must come
at commit, for exactly that session, and never for a transaction rolled back.
"""

from __future__ import annotations

import asyncio

from mpc.db import create_engine, session_factory
from mpc.session_events import SessionEndListener, announce_end


async def test_an_end_is_announced_at_commit_and_never_for_a_rollback(migrated_db: str) -> None:
    listener = SessionEndListener(migrated_db)
    engine = create_engine(migrated_db, pool_size=1)
    try:
        await listener.start()
        committed, rolled_back, other = (listener.ended(name) for name in ("committed", "rolled-back", "other"))
        async with session_factory(engine)() as db:
            async with db.begin():
                await announce_end(db, "committed")
                await asyncio.sleep(0.2)
                assert not committed.done(), "announced before the commit"
            await asyncio.wait_for(committed, 10)
            async with db.begin() as transaction:
                await announce_end(db, "rolled-back")
                await transaction.rollback()
        await asyncio.sleep(0.3)
        assert not rolled_back.done() and not other.done()
    finally:
        await listener.close()
        await engine.dispose()
    assert rolled_back.cancelled() and other.cancelled()  # close ends every wait still open
