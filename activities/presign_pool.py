"""Coordinator activities of the GG20 presignature pool: store, claim, count, and combine the online round.

The coordinator sees a presignature's public record only (id, R, each signer's R̄_j = k_j·R and S_j = σ_j·R);
each signer keeps k_j and σ_j sealed. A pool is one key, one epoch and one signer set: a presignature binds
the signer set it was made with (tss.ecdsa.gg20 `_check_binding`), so a sign session can use one only with
exactly those signers, and only at the epoch it was made at. Rows of older epochs are dropped whenever the
pool is read, so an epoch change empties it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.coordinator import SessionEndHook, apply_session_update, complete_signed, signed_endings
from activities.frost_aggregate import verified_payload, violation_error
from activities.gg20_online import ONLINE_PROTOCOL, online_ssid
from activities.pool_trigger import start_presign_refill_in_background
from mpc.db.models import Key, PooledPresignature
from mpc.envelope import EnvelopeError, json_object
from mpc.protocols import Activity
from tss.ecdsa.curve import Point
from tss.ecdsa.gg20 import PresignaturePublic, combine_public
from tss.ecdsa.rounds import pt
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from workflows.types import (
    ClaimPresignatureInput,
    ClaimPresignatureResult,
    Gg20BatchClaim,
    Gg20CombineInput,
    Gg20SignBatchBeginInput,
    Gg20SignBatchFinishInput,
    Gg20SignBeginInput,
    Gg20SignFinishInput,
    Party,
    PresignPoolInput,
    PresignPoolStatus,
    SessionUpdate,
    StorePresignatureInput,
    WireMessage,
)

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


async def claim_presignature(db: AsyncSession, request: ClaimPresignatureInput) -> ClaimPresignatureResult:
    """In the caller's transaction: the presignature this attempt claimed before, or the oldest free one."""
    signers = signer_set(request.node_ids)
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


async def claim_presignatures(db: AsyncSession, key_id: str, node_ids: list[str], claim_ids: list[str]
                              ) -> Gg20BatchClaim:
    """In the caller's transaction: one presignature per claim id (a digest of a batch), those each id
    claimed before first, then the oldest free ones, as many as there are; "" for an id left without."""
    signers = signer_set(node_ids)
    if not claim_ids or await _current_epoch(db, key_id) is None:
        return Gg20BatchClaim(["" for _ in claim_ids])
    mine = dict((await db.execute(
        select(PooledPresignature.claimed_session_id, PooledPresignature.presig_id)
        .where(PooledPresignature.key_id == key_id, PooledPresignature.claimed_session_id.in_(claim_ids))
    )).tuples().all())
    unserved = [claim_id for claim_id in claim_ids if claim_id not in mine]
    if unserved:
        free = (await db.execute(
            select(PooledPresignature.presig_id)
            .where(PooledPresignature.key_id == key_id, PooledPresignature.signer_set == signers,
                   PooledPresignature.claimed_session_id.is_(None))
            .order_by(PooledPresignature.created_at).limit(len(unserved)).with_for_update(skip_locked=True)
        )).scalars().all()
        now = datetime.now(UTC)
        for claim_id, presig_id in zip(unserved, free, strict=False):
            await db.execute(update(PooledPresignature).where(PooledPresignature.presig_id == presig_id)
                             .values(claimed_session_id=claim_id, claimed_at=now))
            mine[claim_id] = presig_id
    return Gg20BatchClaim([mine.get(claim_id, "") for claim_id in claim_ids], await _available(db, key_id, signers))


class PresignPool:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], on_end: SessionEndHook | None = None) -> None:
        self.sessions = sessions
        self.on_end = on_end  # where a session's row becomes final (the worker's session metrics)

    @activity.defn(name=Activity.STORE_PRESIGNATURE.value)
    async def store(self, request: StorePresignatureInput) -> int:
        """Add a finished presignature; one made at an epoch the key has left is dropped (returns 0)."""
        if len(request.presig_id) != HEX_ID_LENGTH or len(request.big_r) != 66:
            raise ApplicationError("malformed presignature record", type="InvalidRequest", non_retryable=True)
        async with self.sessions() as db, db.begin():
            if await _current_epoch(db, request.key_id) != request.epoch:
                return 0
            db.add(PooledPresignature(presig_id=request.presig_id, key_id=request.key_id, epoch=request.epoch,
                                      signer_set=signer_set(request.node_ids), big_r=request.big_r,
                                      shares_public=request.shares_public))
            try:
                await db.flush()
            except IntegrityError:  # a retried store: the presignature is in the pool already
                return 0
        return 1

    @activity.defn(name=Activity.CLAIM_PRESIGNATURE.value)
    async def claim(self, request: ClaimPresignatureInput) -> ClaimPresignatureResult:
        """Hand one presignature of this signer set to `session_id`, or none; a retry gets the same one."""
        async with self.sessions() as db, db.begin():
            return await claim_presignature(db, request)

    @activity.defn(name=Activity.GG20_SIGN_BEGIN.value)
    async def begin_sign(self, request: Gg20SignBeginInput) -> ClaimPresignatureResult:
        """The session running and a presignature claimed, in one transaction (one local step, not three)."""
        async with self.sessions() as db, db.begin():
            claimed = await claim_presignature(db, request.claim)
            pooled = claimed.presig_id is not None
            await apply_session_update(db, SessionUpdate(
                request.session_id, status="running", current_round=1 if pooled else None,
                total_rounds=1 if pooled else request.rounds_without_pool, started=True))
        return claimed

    @activity.defn(name=Activity.GG20_SIGN_BATCH_BEGIN.value)
    async def begin_batch(self, request: Gg20SignBatchBeginInput) -> Gg20BatchClaim:
        """A batch's sessions running and its presignatures claimed, in one transaction: one round when the
        pool served every digest, else one more presign-and-sign run per digest it could not serve."""
        async with self.sessions() as db, db.begin():
            claimed = await claim_presignatures(db, request.key_id, request.node_ids, request.claim_ids)
            total = claimed.total_rounds(request.rounds_without_pool)
            for session_id in request.item_sessions or [request.session_id]:
                await apply_session_update(db, SessionUpdate(session_id, status="running", current_round=1,
                                                             total_rounds=total, started=True))
        return claimed

    @activity.defn(name=Activity.PRESIGN_LEVEL.value)
    async def level(self, request: PresignPoolInput) -> int:
        """Unclaimed presignatures of this signer set at the key's current epoch."""
        async with self.sessions() as db, db.begin():
            if await _current_epoch(db, request.key_id) is None:
                return 0
            return await _available(db, request.key_id, signer_set(request.node_ids))

    @activity.defn(name=Activity.PRESIGN_POOL_STATUS.value)
    async def status(self, request: PresignPoolInput) -> PresignPoolStatus:
        """The level, and the age of the last claim: whether signatures are drawing on the pool right now."""
        async with self.sessions() as db, db.begin():
            if await _current_epoch(db, request.key_id) is None:
                return PresignPoolStatus(0)
            signers = signer_set(request.node_ids)
            last_claim = (await db.execute(
                select(func.max(PooledPresignature.claimed_at))
                .where(PooledPresignature.key_id == request.key_id, PooledPresignature.signer_set == signers)
            )).scalar_one_or_none()
            age = None if last_claim is None else max(0.0, (datetime.now(UTC) - last_claim).total_seconds())
            return PresignPoolStatus(await _available(db, request.key_id, signers), age)

    @activity.defn(name=Activity.GG20_SIGN_FINISH.value)
    async def finish_sign(self, request: Gg20SignFinishInput) -> str:
        """Combine and verify (a wrong share names its signer and writes nothing); then the session completed
        and its `key.sign` audit entry in one transaction; then a low pool's refill, started in the background."""
        combine = request.combine
        signature = await self.combine(combine)
        signers = [p.node_id for p in combine.signers]
        await complete_signed(self.sessions, self.on_end, request.actor, combine.key_id, [(
            SessionUpdate(request.session_id, status="completed", signature=signature, finished=True,
                          participants=signers), {"digest": combine.digest, "signers": signers, "used_pool": True})])
        if request.refill is not None:
            start_presign_refill_in_background(request.refill)
        return signature

    @activity.defn(name=Activity.GG20_SIGN_BATCH_FINISH.value)
    async def finish_batch(self, request: Gg20SignBatchFinishInput) -> list[str]:
        """Every pooled digest's shares combined and verified (a wrong share names its signer and writes
        nothing), with the signatures the session made itself; then every session completed with its audit
        entry in one transaction: the batch's one session, or each coalesced request's own with its digest's
        signature; then a low pool's refill, started in the background."""
        count = len(request.digests)
        signatures = [request.made.get(str(i), "") for i in range(count)]
        indexes = [_item_index(combine.session_id) for combine in request.combines]
        for index, combine in zip(indexes, request.combines, strict=True):
            if index is None or not 0 <= index < count or request.digests[index] != combine.digest:
                raise ApplicationError("a combined share is not one of the batch's digests", type="InvalidRequest",
                                       non_retryable=True)
        for index, signature in zip(indexes, await self._combine_all(request.key_id, request.combines), strict=True):
            assert index is not None  # checked above
            signatures[index] = signature
        if not all(signatures):
            raise ApplicationError("one signature per digest", type="InvalidRequest", non_retryable=True)
        await complete_signed(self.sessions, self.on_end, request.actor, request.key_id, signed_endings(
            request.session_id, request.item_sessions, request.signers, bool(request.combines),
            {"digests": request.digests}, signatures=signatures, item_digests=request.digests))
        if request.refill is not None:
            start_presign_refill_in_background(request.refill)
        return signatures

    @activity.defn(name=Activity.GG20_COMBINE.value)
    async def combine(self, request: Gg20CombineInput) -> str:
        """Every signer's signed s_i, checked against its R̄_j and S_j (naming a signer whose share is wrong),
        summed, low-s, and verified under the key: the 65-byte r ‖ s ‖ v, hex."""
        return (await self._combine_all(request.key_id, [request]))[0]

    async def _combine_all(self, key_id: str, requests: list[Gg20CombineInput]) -> list[str]:
        """`combine` for each of a batch's presignatures, with their pool records read in one query."""
        if not requests:  # a batch the pool served none of
            return []
        async with self.sessions() as db:
            key = await db.get(Key, key_id)
            rows = {row.presig_id: row for row in (await db.execute(select(PooledPresignature).where(
                PooledPresignature.presig_id.in_([r.presig_id for r in requests])))).scalars().all()}
        group_key = pt(key.public_key) if key is not None else None
        signatures = []
        for request in requests:
            row = rows.get(request.presig_id)
            if row is None or group_key is None or request.key_id != key_id or row.key_id != key_id:
                raise ApplicationError(f"presignature {request.presig_id[:16]} is not in the pool of {key_id}",
                                       type="InvalidRequest", non_retryable=True)
            signatures.append(_combine_one(row, group_key, request))
        return signatures


def _combine_one(row: PooledPresignature, group_key: Point, request: Gg20CombineInput) -> str:
    try:
        public = PresignaturePublic.from_dict(row.shares_public, group_key)
    except EncodingError as exc:
        raise ApplicationError(f"pool record of {request.presig_id[:16]}: {exc}", type="InvalidRequest",
                               non_retryable=True) from None
    by_node = {p.node_id: p for p in request.signers}
    ssid = online_ssid(request.session_id, request.key_id, request.digest, request.presig_id)
    shares: dict[int, int] = {}
    for wire in request.shares:
        party = by_node.get(wire.sender)
        s_i = online_share(wire, party, ssid=ssid, presig_id=request.presig_id, digest=request.digest)
        assert party is not None  # online_share refused an unknown sender
        shares[party.party_id] = s_i
    node_of = {p.party_id: p.node_id for p in request.signers}
    try:
        signature = combine_public(public, bytes.fromhex(request.digest), shares)
    except ProtocolError as exc:
        culprits = [node_of.get(j, f"party-{j}") for j in sorted(exc.culprits)]
        raise violation_error(exc.reason, culprits,
                              f"{exc.reason}: {', '.join(culprits) or 'unattributed'}") from None
    except (InvalidInputError, ValueError) as exc:
        raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from None
    return str(signature.public_dict()["signature"])


def _item_index(item_session: str) -> int | None:
    """A batch item's session id is `<attempt>.<index>`."""
    _, _, index = item_session.rpartition(".")
    return int(index) if index.isdigit() else None


def online_share(wire: WireMessage, party: Party | None, *, ssid: bytes, presig_id: str, digest: str) -> int:
    """A signer's s_i from its signed answer; anything else is a non-retryable `ProtocolViolation`: naming
    the signer when its signed payload is wrong, nobody when the signature does not check (SECURITY.md A5).
    Whether s_i is the right share is `combine_public`'s check (s_j·R = m·R̄_j + r·S_j)."""
    payload = verified_payload(wire, party, ssid=ssid, protocol=ONLINE_PROTOCOL, round_no=1, kind="share")
    assert party is not None  # verified_payload refused an unknown sender
    try:
        body = json_object(payload, max_bytes=4096, what="share")
        s_hex = body["s"]
        if not isinstance(s_hex, str) or len(s_hex) != 64:
            raise ValueError("s is not 32 bytes of hex")
        s_i = int(s_hex, 16)
        if (body.get("presig_id"), body.get("digest"), body.get("party_id")) != (presig_id, digest, party.party_id):
            raise ValueError("another presignature, digest or party")
    except (EnvelopeError, KeyError, ValueError, TypeError):
        raise violation_error("malformed_share", [party.node_id], f"malformed share from {party.node_id}") from None
    return s_i
