"""Coordinator activities: the metadata database (sessions, keys, audit log, nonce pool).

They run on the coordinator worker, which never holds a share or a nonce: everything here is
public (public keys, commitments, signatures) or a sealed envelope it cannot open.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mpc.chains import present_ecdsa_key, present_frost_key
from mpc.db.models import AuditLog, Key, NonceCommitment, SigningSession
from mpc.envelope import Envelope, EnvelopeError, json_object
from mpc.node_metrics import SessionEnded
from mpc.protocols import KEY_PROTOCOLS, Activity, Family
from mpc.session_events import announce_end
from workflows.types import (
    AuditInput,
    ClaimCommitmentsInput,
    ClaimCommitmentsResult,
    FinishKeyInput,
    KeyRecord,
    PoolLevelsInput,
    RecordEpochInput,
    RecordKeyInput,
    SessionUpdate,
    SignBeginInput,
    StoreCommitmentsInput,
    WireMessage,
)


def epoch_entry(epoch: int, holders: list[str], threshold: int, created: datetime, reason: str,
                session_id: str | None = None) -> dict[str, Any]:
    """One row of a key's epoch history (`GET /v1/keys/{id}/epochs`)."""
    return {"epoch": epoch, "holders": holders, "threshold": threshold, "created": created.isoformat(),
            "reason": reason, "session_id": session_id}


SessionEndHook = Callable[[SessionEnded], None]
"""Called once a session's final row is committed (the worker's metrics: mpc/node_metrics.py)."""


async def apply_session_update(db: AsyncSession, change: SessionUpdate) -> SessionEnded | None:
    """Apply `change` to its session row (in the caller's transaction); what ended, if it finished the session."""
    row = await db.get(SigningSession, change.session_id)
    if row is None:
        raise ApplicationError(f"unknown session {change.session_id}", type="UnknownSession", non_retryable=True)
    now = datetime.now(UTC)
    for name in ("status", "current_round", "total_rounds", "signature", "signatures"):
        value = getattr(change, name)
        if value is not None:
            setattr(row, name, value)
    if change.participants is not None:
        row.participants = list(change.participants)
    if change.error is not None:
        row.error = {"code": change.error.code, "message": change.error.message, "node": change.error.node,
                     "nodes": change.error.nodes}
    if change.started and row.started_at is None:
        row.started_at = now
    if not change.finished:
        return None
    row.completed_at = now
    begun = row.started_at or row.created_at
    row.duration_ms = int((now - begun).total_seconds() * 1000)
    key = await db.get(Key, row.key_id) if row.key_id else None
    return SessionEnded(operation=row.operation, protocol=row.protocol, curve=key.curve if key else "",
                        outcome=str(row.status), seconds=row.duration_ms / 1000)


async def complete_signed(sessions: async_sessionmaker[AsyncSession], on_end: SessionEndHook | None, actor: str,
                          key_id: str, endings: list[tuple[SessionUpdate, dict[str, Any]]]) -> None:
    """Signed sessions completed, each with its `key.sign` audit entry, in one transaction; then their ends
    reported to the metrics (the FROST and GG20 finishing steps)."""
    ended = []
    async with sessions() as db, db.begin():
        for update, details in endings:
            ended.append(await apply_session_update(db, update))
            db.add(AuditLog(actor=actor, action="key.sign", resource_type="key", resource_id=key_id,
                            session_id=update.session_id, status="success", details=details))
            # At commit, with the signature and its audit entry: the API answers a waiting caller from the row
            # now, not one workflow task later (mpc/session_events.py).
            await announce_end(db, update.session_id)
    for one in ended:
        report_end(on_end, one)


def signed_endings(session_id: str, item_sessions: list[str], signers: list[str], used_pool: bool,
                   signed: dict[str, Any], *, signature: str = "", signatures: list[str], item_digests: list[str],
                   ) -> list[tuple[SessionUpdate, dict[str, Any]]]:
    """For `complete_signed`: each session row's completion and its audit details. The one session of the
    request (with `signature`, or `signatures` of a batch; `signed` names what was signed), or for coalesced
    requests (`item_sessions`, one per digest) each session with its own digest's signature (and the session
    the batch ran under)."""
    common: dict[str, Any] = {"signers": signers, "used_pool": used_pool}
    if not item_sessions:
        return [(SessionUpdate(session_id, status="completed", signature=signature or None,
                               signatures=signatures or None, finished=True, participants=list(signers)),
                 {**signed, **common})]
    if len(item_sessions) != len(item_digests) or len(signatures) != len(item_digests):
        raise ApplicationError("one session per digest", type="InvalidRequest", non_retryable=True)
    return [(SessionUpdate(item, status="completed", signature=item_signature, finished=True,
                           participants=list(signers)),
             {"digest": digest, **common, "coalesced_in": session_id})
            for item, item_signature, digest in zip(item_sessions, signatures, item_digests, strict=True)]


def report_end(hook: SessionEndHook | None, ended: SessionEnded | None) -> None:
    """After the commit: a metrics failure never fails the session's bookkeeping."""
    if hook is not None and ended is not None:
        with contextlib.suppress(Exception):
            hook(ended)


async def claim_commitments(db: AsyncSession, request: ClaimCommitmentsInput) -> ClaimCommitmentsResult:
    """Take `count` unused commitments per signer, or none, in the caller's transaction."""
    count = max(1, request.count)
    key = await db.get(Key, request.key_id)
    epoch = key.epoch if key else 0
    chosen: list[list[NonceCommitment]] = []
    for node in request.node_ids:
        rows = list((await db.execute(
            select(NonceCommitment)
            .where(NonceCommitment.key_id == request.key_id, NonceCommitment.node_id == node,
                   NonceCommitment.claimed_session_id.is_(None), NonceCommitment.epoch == epoch)
            .order_by(NonceCommitment.id).limit(count).with_for_update(skip_locked=True)
        )).scalars().all())
        if len(rows) < count:
            return ClaimCommitmentsResult(remaining=0)  # nothing was updated: nothing is claimed
        chosen.append(rows)
    levels = dict((await db.execute(
        select(NonceCommitment.node_id, func.count())
        .where(NonceCommitment.key_id == request.key_id, NonceCommitment.node_id.in_(request.node_ids),
               NonceCommitment.claimed_session_id.is_(None), NonceCommitment.epoch == epoch)
        .group_by(NonceCommitment.node_id))).tuples().all())
    await db.execute(update(NonceCommitment).where(NonceCommitment.id.in_([r.id for rs in chosen for r in rs]))
                     .values(claimed_session_id=request.session_id, claimed_at=datetime.now(UTC)))
    return ClaimCommitmentsResult([WireMessage(sender=rows[i].node_id, recipient="*", round=1, body=rows[i].envelope)
                                   for i in range(count) for rows in chosen],
                                  remaining=min(int(levels.get(n, 0)) for n in request.node_ids) - count)


class CoordinatorActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], on_end: SessionEndHook | None = None) -> None:
        self.sessions = sessions
        self.on_end = on_end

    @activity.defn(name=Activity.UPDATE_SESSION.value)
    async def update_session(self, change: SessionUpdate) -> None:
        async with self.sessions() as db:
            ended = await apply_session_update(db, change)
            await db.commit()
        report_end(self.on_end, ended)

    @activity.defn(name=Activity.FROST_SIGN_BEGIN.value)
    async def begin_frost_sign(self, request: SignBeginInput) -> ClaimCommitmentsResult:
        """The session running and its nonce commitments claimed, in one transaction (one round when the
        pool served every signer, else two: a commitment round first)."""
        async with self.sessions() as db, db.begin():
            claimed = (await claim_commitments(db, request.claim) if request.use_pool
                       else ClaimCommitmentsResult(remaining=0))
            total = 1 if claimed.commitments else 2
            for session_id in request.item_sessions or [request.session_id]:
                await apply_session_update(db, SessionUpdate(session_id, status="running", current_round=1,
                                                             total_rounds=total, started=True))
        return claimed

    @activity.defn(name=Activity.RECORD_KEY.value)
    async def record_key(self, request: RecordKeyInput) -> KeyRecord:
        async with self.sessions() as db:
            key = await db.get(Key, request.key_id)
            if key is None:
                raise ApplicationError(f"unknown key {request.key_id}", type="UnknownKey", non_retryable=True)
            package = request.public_result["package"]
            if KEY_PROTOCOLS[key.protocol].family == Family.ECDSA:
                forms = present_ecdsa_key(key.chain_type, package["group_public_key"])
            else:
                forms = present_frost_key(key.curve, key.chain_type, package["group_public_key"])
            key.public_key, key.address = forms["public_key"], forms["address"]
            key.public_data = {**(key.public_data or {}), "package": package,
                               "verifying_key": forms["verifying_key"]}
            if request.public_result.get("chain_code"):  # the BIP-32 chain code every holder pinned
                key.public_data["chain_code"] = str(request.public_result["chain_code"])
            key.epoch = int(package.get("epoch", 0))
            key.status = "active"
            await db.commit()
            return KeyRecord(key_id=key.key_id, public_key=forms["public_key"], address=forms["address"])

    @activity.defn(name=Activity.RECORD_EPOCH.value)
    async def record_epoch(self, request: RecordEpochInput) -> None:
        """The database side of a reshare's commit point: holders, party ids, threshold and epoch of
        the key change together, the old epoch's pooled commitments go, and the epoch history grows.
        Idempotent (a retry finds the epoch recorded); the group key must be the old one (R2)."""
        async with self.sessions() as db, db.begin():
            key = await db.get(Key, request.key_id, with_for_update=True)
            if key is None:
                raise ApplicationError(f"unknown key {request.key_id}", type="UnknownKey", non_retryable=True)
            if key.epoch >= request.epoch:
                return
            old_package = (key.public_data or {}).get("package") or {}
            if old_package.get("group_public_key") != request.package.get("group_public_key"):
                raise ApplicationError("the new epoch has another group key", type="VerificationFailed",
                                       non_retryable=True)
            data = dict(key.public_data or {})
            history = list(data.get("epochs") or [epoch_entry(key.epoch, list(key.participants), key.threshold,
                                                              key.created_at, "keygen")])
            history.append(epoch_entry(request.epoch, request.holders, request.threshold, datetime.now(UTC),
                                       request.reason, session_id=request.session_id))
            known = [*(data.get("party_ids") or {}).values(), len(key.participants), *request.party_ids.values()]
            next_pid = max(int(data.get("next_party_id") or 0), max(int(i) for i in known) + 1)
            data.update(package=request.package, party_ids=dict(request.party_ids), roster=request.roster,
                        epochs=history, next_party_id=next_pid)
            key.public_data = data
            key.participants, key.total_nodes = list(request.holders), len(request.holders)
            key.threshold, key.epoch = request.threshold, request.epoch
            await db.execute(delete(NonceCommitment).where(NonceCommitment.key_id == request.key_id,
                                                           NonceCommitment.epoch < request.epoch))

    @activity.defn(name=Activity.FINISH_KEY.value)
    async def finish_key(self, request: FinishKeyInput) -> None:
        async with self.sessions() as db:
            key = await db.get(Key, request.key_id)
            if key is not None:
                key.status = request.status
                await db.commit()

    @activity.defn(name=Activity.AUDIT.value)
    async def audit(self, entry: AuditInput) -> None:
        async with self.sessions() as db:
            db.add(AuditLog(actor=entry.actor, action=entry.action, resource_type=entry.resource_type,
                            resource_id=entry.resource_id, session_id=entry.session_id, status=entry.status,
                            details=entry.details))
            await db.commit()

    # ---- FROST nonce pool ------------------------------------------------------------------
    @activity.defn(name=Activity.STORE_COMMITMENTS.value)
    async def store_commitments(self, request: StoreCommitmentsInput) -> int:
        """Add published commitments to the pool; a commitment seen before for the key is refused."""
        stored = 0
        for wire in request.commitments:
            try:
                payload = json_object(Envelope.from_json(wire.body).payload_bytes(), max_bytes=64 * 1024,
                                      what="commitment")
                nonce_id, epoch = str(payload["nonce_id"]), payload.get("epoch", 0)
                commitment = str(payload["commitment"])
                # int() of 1e999 raised OverflowError (unhandled, so retried), and an epoch beyond 64 bits
                # failed the insert (found by tests/fuzz)
                if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < 2**63:
                    raise ValueError("epoch must be a non-negative 64-bit integer")
            except (EnvelopeError, ValueError, TypeError, KeyError):
                # The node's own published commitment is garbage: its fault, and a retry cannot help.
                raise ApplicationError(f"malformed commitment envelope from {request.node_id}",
                                       {"code": "malformed_commitment", "culprits": [request.node_id]},
                                       type="ProtocolViolation", non_retryable=True) from None
            if wire.sender != request.node_id or payload.get("key_id") != request.key_id:
                raise ApplicationError("commitment for another node or key", type="InvalidRequest",
                                       non_retryable=True)
            async with self.sessions() as db:
                db.add(NonceCommitment(key_id=request.key_id, node_id=request.node_id,
                                       nonce_id=nonce_id, epoch=epoch, commitment=commitment, envelope=wire.body))
                try:
                    await db.commit()
                    stored += 1
                except IntegrityError:
                    # A replayed or duplicated commitment: never enters the pool twice (N8).
                    await db.rollback()
        return stored

    @activity.defn(name=Activity.CLAIM_COMMITMENTS.value)
    async def claim_commitments(self, request: ClaimCommitmentsInput) -> ClaimCommitmentsResult:
        """Atomically take `count` unused commitments per signer (one per digest of a batch), or none at all."""
        async with self.sessions() as db, db.begin():
            return await claim_commitments(db, request)

    @activity.defn(name=Activity.POOL_LEVELS.value)
    async def pool_levels(self, request: PoolLevelsInput) -> dict[str, int]:
        async with self.sessions() as db:
            key = await db.get(Key, request.key_id)
            epoch = key.epoch if key else 0
            rows = (await db.execute(
                select(NonceCommitment.node_id, func.count())
                .where(NonceCommitment.key_id == request.key_id, NonceCommitment.claimed_session_id.is_(None),
                       NonceCommitment.epoch == epoch)
                .group_by(NonceCommitment.node_id)
            )).all()
        levels = {node: 0 for node in request.node_ids}
        levels.update({node: int(count) for node, count in rows if node in levels})
        return levels
