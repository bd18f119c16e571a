"""Coordinator activities of the GG20 presignature pool: store, claim, count.

The coordinator sees a presignature's public id and R only; each signer keeps its part sealed. A pool is
one key, one epoch and one signer set: a presignature binds the signer set it was made with (tss.ecdsa.gg20
`_check_binding`), so a sign session can use one only with exactly those signers, and only at the epoch it
was made at. Rows of older epochs are dropped whenever the pool is read, so an epoch change empties it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mpc.db.models import Key, PooledPresignature
from mpc.protocols import Activity
from workflows.types import ClaimPresignatureInput, ClaimPresignatureResult, PresignPoolInput, StorePresignatureInput

HEX_ID_LENGTH = 64
CLAIMED_KEPT = timedelta(hours=1)  # a claimed row stays a while for the audit of a running session, then goes


def signer_set(node_ids: list[str]) -> str:
    return ",".join(sorted(node_ids))


async def _current_epoch(db: AsyncSession, key_id: str) -> int | None:
    """The key's epoch, after dropping rows of any other (an epoch change voids every presignature)."""
    key = await db.get(Key, key_id)
    if key is None:
        return None
    await db.execute(delete(PooledPresignature).where(PooledPresignature.key_id == key_id,
                                                      PooledPresignature.epoch != key.epoch))
    await db.execute(delete(PooledPresignature).where(PooledPresignature.key_id == key_id,
                                                      PooledPresignature.claimed_at < datetime.now(UTC) - CLAIMED_KEPT))
    return key.epoch


async def _available(db: AsyncSession, key_id: str, signers: str) -> int:
    return int((await db.execute(
        select(func.count()).select_from(PooledPresignature)
        .where(PooledPresignature.key_id == key_id, PooledPresignature.signer_set == signers,
               PooledPresignature.claimed_session_id.is_(None)))).scalar_one())


class PresignPool:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=Activity.STORE_PRESIGNATURE.value)
    async def store(self, request: StorePresignatureInput) -> int:
        """Add a finished presignature; one made at an epoch the key has left is dropped (returns 0)."""
        if len(request.presig_id) != HEX_ID_LENGTH or len(request.big_r) != 66:
            raise ApplicationError("malformed presignature record", type="InvalidRequest", non_retryable=True)
        async with self.sessions() as db, db.begin():
            if await _current_epoch(db, request.key_id) != request.epoch:
                return 0
            db.add(PooledPresignature(presig_id=request.presig_id, key_id=request.key_id, epoch=request.epoch,
                                      signer_set=signer_set(request.node_ids), big_r=request.big_r))
            try:
                await db.flush()
            except IntegrityError:  # a retried store: the presignature is in the pool already
                return 0
        return 1

    @activity.defn(name=Activity.CLAIM_PRESIGNATURE.value)
    async def claim(self, request: ClaimPresignatureInput) -> ClaimPresignatureResult:
        """Hand one presignature of this signer set to `session_id`, or none; a retry gets the same one."""
        signers = signer_set(request.node_ids)
        async with self.sessions() as db, db.begin():
            if await _current_epoch(db, request.key_id) is None:
                return ClaimPresignatureResult()
            mine = (await db.execute(select(PooledPresignature.presig_id).where(
                PooledPresignature.claimed_session_id == request.session_id))).scalar_one_or_none()
            if mine is None:
                mine = (await db.execute(
                    select(PooledPresignature.presig_id)
                    .where(PooledPresignature.key_id == request.key_id, PooledPresignature.signer_set == signers,
                           PooledPresignature.claimed_session_id.is_(None))
                    .order_by(PooledPresignature.created_at).limit(1).with_for_update(skip_locked=True)
                )).scalar_one_or_none()
                if mine is not None:
                    await db.execute(update(PooledPresignature).where(PooledPresignature.presig_id == mine)
                                     .values(claimed_session_id=request.session_id, claimed_at=datetime.now(UTC)))
            return ClaimPresignatureResult(mine, await _available(db, request.key_id, signers))

    @activity.defn(name=Activity.PRESIGN_LEVEL.value)
    async def level(self, request: PresignPoolInput) -> int:
        """Unclaimed presignatures of this signer set at the key's current epoch."""
        async with self.sessions() as db, db.begin():
            if await _current_epoch(db, request.key_id) is None:
                return 0
            return await _available(db, request.key_id, signer_set(request.node_ids))
