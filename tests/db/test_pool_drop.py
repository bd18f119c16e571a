"""A nonce-epoch bump (restore, `POST /v1/nodes/{id}/nonce-epoch`) forgets what the bumped nodes pooled.

On the real PostgreSQL of the test services: the bumped node's unclaimed FROST commitments and every
unclaimed GG20 presignature whose signer set holds it are dropped with the bump, in its transaction; what
other nodes pooled and what a session already claimed stay. Without this, the coordinator would hand out
presignatures the node refuses after its bump (`nonce_consumed`).
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import delete, select

from mpc.backup.restore import bump_node_epochs, drop_pooled
from mpc.db import create_engine, session_factory
from mpc.db.models import Key, NodeNonceEpoch, NonceCommitment, PooledPresignature


def test_a_bump_drops_only_the_bumped_nodes_unclaimed_pools(migrated_db: str) -> None:
    asyncio.run(_scenario(migrated_db))


async def _scenario(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    sessions = session_factory(engine)
    key_id, tag = str(uuid.uuid4()), uuid.uuid4().hex[:8]
    a, b, c = (f"{n}-{tag}" for n in ("a", "b", "c"))
    try:
        async with sessions() as db, db.begin():
            db.add(Key(key_id=key_id, protocol="gg20", curve="secp256k1", threshold=2, total_nodes=3,
                       participants=[], chain_type="ethereum", status="active"))
        async with sessions() as db, db.begin():
            for node, claimed in ((a, None), (b, None), (b, "s-1")):
                db.add(NonceCommitment(key_id=key_id, node_id=node, nonce_id=uuid.uuid4().hex, epoch=0,
                                       commitment=uuid.uuid4().hex, envelope="{}", claimed_session_id=claimed))
            for signers, claimed in (((a, b), None), ((a, b), "s-2"), ((a, c), None)):
                db.add(PooledPresignature(presig_id=uuid.uuid4().hex + uuid.uuid4().hex, key_id=key_id, epoch=0,
                                          signer_set=",".join(sorted(signers)), big_r="02" * 33, shares_public={},
                                          claimed_session_id=claimed))
        assert await bump_node_epochs(sessions, [b], "test") == [b]
        async with sessions() as db:
            commitments = (await db.execute(select(NonceCommitment.node_id, NonceCommitment.claimed_session_id)
                                            .where(NonceCommitment.key_id == key_id))).all()
            presigs = (await db.execute(select(PooledPresignature.signer_set, PooledPresignature.claimed_session_id)
                                        .where(PooledPresignature.key_id == key_id))).all()
            bumped = await db.get(NodeNonceEpoch, b)
        assert sorted(commitments) == sorted([(a, None), (b, "s-1")])  # b's unclaimed one is gone
        assert sorted(presigs) == sorted([(",".join(sorted((a, b))), "s-2"), (",".join(sorted((a, c))), None)])
        assert bumped is not None and bumped.counter == 1

        # A restore drops every node's unclaimed pools. The database is shared with the other tests' stack:
        # check within a transaction that is rolled back, so their pools stay.
        async with sessions() as db:  # autobegun; rolled back below (and on close, should an assert fail)
            commitments_dropped, presigs_dropped = await drop_pooled(db)
            left = (await db.execute(select(NonceCommitment.claimed_session_id)
                                     .where(NonceCommitment.key_id == key_id))).scalars().all()
            left_presigs = (await db.execute(select(PooledPresignature.claimed_session_id)
                                             .where(PooledPresignature.key_id == key_id))).scalars().all()
            await db.rollback()
        assert commitments_dropped >= 1 and presigs_dropped >= 1
        assert (left, left_presigs) == (["s-1"], ["s-2"])  # only what sessions claimed
        async with sessions() as db:  # rolled back: every pool is as it was
            kept = (await db.execute(select(NonceCommitment.node_id).where(NonceCommitment.key_id == key_id))).all()
        assert len(kept) == 2
    finally:
        async with sessions() as db, db.begin():
            await db.execute(delete(NodeNonceEpoch).where(NodeNonceEpoch.node_id.in_([a, b, c])))
            await db.execute(delete(Key).where(Key.key_id == key_id))
        await engine.dispose()
