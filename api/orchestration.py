"""Starting keygen and signing workflows from validated API requests.

Order of work: every check first (so bad input starts nothing and writes nothing); then the key
and session rows and the audit entry are committed in one transaction, and the workflow is
started (its first activity updates those rows, so they must exist first). If the start fails,
the rows are deleted again. The workflow id
derives from the `Idempotency-Key` when one is given, so Temporal itself refuses a second
workflow for a retried request even when Redis has forgotten the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.coordinator import claim_commitments
from activities.presign_pool import claim_presignature, claim_presignatures
from api import idempotency
from api.auth import Principal
from api.coalesce import GroupKey, SignCoalescer
from api.derivation import checked_path
from api.errors import ApiError
from api.intent_issuer import issue
from api.schemas import KeyCreate, SignCreate
from api.start_interrupted import START_RPC_TIMEOUT, settle_if_never_started
from mpc.chains import CHAIN_CURVES, ChainError, check_chain
from mpc.db.models import Admission, AuditLog, Key, Node, SigningSession
from mpc.intent_keys import IntentSigner
from mpc.intents import KeyPolicy
from mpc.protocols import KEY_PROTOCOLS, Family, sign_rounds
from mpc.queues import COORDINATOR_TASK_QUEUE
from mpc.settings import Settings
from workflows.keygen import KeygenWorkflow
from workflows.search import initial_attributes
from workflows.sign import SignWorkflow
from workflows.types import (
    ClaimCommitmentsInput,
    ClaimPresignatureInput,
    KeygenRequest,
    Party,
    RoundPolicy,
    SessionIntent,
    SignRequest,
    roster_of,
)

IMPLEMENTED_PROTOCOLS = tuple(KEY_PROTOCOLS)
RAW_DIGEST_CHAINS = ("schnorr", "ed25519")
"""Chains whose keys sign raw digests by default; ethereum, bitcoin and solana keys sign transactions."""

ClientFactory = Callable[[], Awaitable[Client]]


@dataclass
class Started:
    session_id: str
    key_id: str
    workflow_id: str
    handle: WorkflowHandle | None
    replayed: bool  # an Idempotency-Key repeat: the earlier session is returned, nothing new started
    done: asyncio.Future[None] | None = None  # a coalesced request: set when its batch session ended
    release: Callable[[], None] | None = None  # frees the coalescer's slot this request's session holds

    def ended(self) -> None:
        """The caller stopped waiting for this session: a slot it held may start waiting requests."""
        if self.release is not None:
            self.release()


def default_protocol_for(settings: Settings, chain_type: str) -> str:
    """DEFAULT_PROTOCOL where the chain can use it; otherwise the first supported protocol that fits
    (an Ed25519 chain cannot use threshold ECDSA, so a Solana key defaults to FROST)."""
    fitting = CHAIN_CURVES.get(chain_type, {})
    if settings.default_protocol in fitting:
        return settings.default_protocol
    return next((p for p in settings.supported_protocols if p in fitting), settings.default_protocol)


def policy_from(settings: Settings) -> RoundPolicy:
    return RoundPolicy(round_timeout_seconds=settings.round_timeout, max_attempts=settings.round_retries,
                       session_timeout_seconds=settings.session_timeout)


def workflow_id_for(operation: str, principal: Principal, idempotency_key: str | None, session_id: str,
                    scope: str = "") -> str:
    """The workflow id; with an Idempotency-Key it derives from (caller, operation, scope, key), so
    Temporal refuses a second workflow for a retried request. `scope` is the key id for signing: the
    same Idempotency-Key on two keys is two requests."""
    if idempotency_key:
        material = f"{principal.token_id}\x00{operation}\x00{scope}\x00{idempotency_key}"
        return f"{operation}-idem-{hashlib.sha256(material.encode()).hexdigest()[:40]}"
    return f"{operation}-{session_id}"


def idempotent_workflow_id(operation: str, principal: Principal, idempotency_key: str | None,
                           scope: str = "") -> str | None:
    """The workflow id a request with an Idempotency-Key maps to (None without one)."""
    return workflow_id_for(operation, principal, idempotency_key, "", scope) if idempotency_key else None


async def online_nodes(db: AsyncSession, settings: Settings) -> dict[str, Node]:
    """Admitted nodes with a recent heartbeat: the only ones a session may use (DESIGN.md "Node admission")."""
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.node_offline_after)
    rows = (await db.execute(select(Node).where(Node.last_heartbeat >= cutoff, Node.admission == Admission.ADMITTED))
            ).scalars().all()
    return {n.node_id: n for n in rows}


async def _check_capacity(db: AsyncSession, operation: str | None, limit: int, settings: Settings) -> None:
    """MAX_CONCURRENT_SIGNINGS / MAX_CONCURRENT_SESSIONS: refuse (429) rather than queue without bound.

    Rows older than SESSION_TIMEOUT do not count: their workflow has ended (every round is bounded).
    """
    recent = datetime.now(UTC) - timedelta(seconds=settings.session_timeout)
    query = select(func.count()).select_from(SigningSession).where(
        SigningSession.status.in_(("pending", "running")), SigningSession.created_at >= recent)
    if operation:
        query = query.where(SigningSession.operation == operation)
    if (await db.execute(query)).scalar_one() >= limit:
        raise ApiError(429, "too_many_sessions", f"{limit} sessions are already running; retry later")


def party_ids_of(key: Key) -> dict[str, int]:
    """Each holder's protocol id: fixed at keygen by position, kept by a node across reshares."""
    recorded = (key.public_data or {}).get("party_ids")
    if isinstance(recorded, dict) and set(recorded) == set(key.participants):
        return {str(n): int(i) for n, i in recorded.items()}
    return {node: i for i, node in enumerate(key.participants, start=1)}


def default_signers(key: Key, online: dict[str, Node]) -> tuple[list[str], list[str]]:
    """The first `threshold` online holders sign; the other online holders are alternates."""
    available = [n for n in key.participants if n in online]
    if len(available) < key.threshold:
        raise ApiError(409, "not_enough_online_nodes",
                       f"{key.threshold} signers needed, {len(available)} participants online")
    return available[: key.threshold], available[key.threshold:]


def party_of(node: Node, party_id: int) -> Party:
    return Party(node.node_id, party_id, node.signing_public_key, node.encryption_public_key)


async def commit_then_start(db: AsyncSession, client_factory: ClientFactory, settings: Settings, run: Any,
                            request: Any, workflow_id: str, attributes: TypedSearchAttributes, *, session_id: str,
                            new_key_id: str | None = None, waits_for: float = 0.0) -> WorkflowHandle:
    """Commit the rows, then start the workflow (its first activity updates them, so they must exist).

    If the start fails, the rows are removed again: a request that did not start leaves nothing behind.
    """
    await _commit(db)
    try:
        client: Client = await client_factory()
        return await client.start_workflow(
            run, request, id=workflow_id, task_queue=COORDINATOR_TASK_QUEUE,
            # A backstop: rounds are bounded, and so is the wait for approvers (`waits_for`).
            execution_timeout=timedelta(seconds=settings.session_timeout * 2 + waits_for),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, search_attributes=attributes,
            rpc_timeout=START_RPC_TIMEOUT,  # bounded, so a pending row older than the grace never started
        )
    except WorkflowAlreadyStartedError:
        await forget(db, [session_id], new_key_id)
        raise ApiError(409, "duplicate_request", "this Idempotency-Key was used for a request still starting") from None
    except Exception as exc:
        await forget(db, [session_id], new_key_id)
        raise ApiError(503, "temporal_unavailable", f"could not start the workflow ({type(exc).__name__}); "
                                                    "nothing was recorded") from None


async def forget(db: AsyncSession, session_ids: list[str], new_key_id: str | None = None) -> None:
    """Requests that did not start leave nothing behind: their rows and request entries go."""
    await db.execute(delete(AuditLog).where(AuditLog.session_id.in_(session_ids)))
    await db.execute(delete(SigningSession).where(SigningSession.session_id.in_(session_ids)))
    if new_key_id:
        await db.execute(delete(Key).where(Key.key_id == new_key_id))
    await db.commit()


async def _existing(db: AsyncSession, workflow_id: str) -> SigningSession | None:
    return (await db.execute(select(SigningSession).where(SigningSession.workflow_id == workflow_id))
            ).scalar_one_or_none()


async def start_keygen(db: AsyncSession, client_factory: ClientFactory, settings: Settings, principal: Principal,
                       body: KeyCreate, idempotency_key: str | None, *, signer: IntentSigner) -> Started:
    protocol = body.protocol or default_protocol_for(settings, body.chain_type)
    if protocol not in settings.supported_protocols:
        raise ApiError(422, "protocol_not_supported", f"protocol {protocol} is not in SUPPORTED_PROTOCOLS")
    if protocol not in IMPLEMENTED_PROTOCOLS:
        raise ApiError(422, "protocol_not_available", f"protocol {protocol} is not available on this service yet")
    try:
        curve = check_chain(body.chain_type, protocol, body.curve)
    except ChainError as exc:
        raise ApiError(422, "chain_mismatch", str(exc)) from None
    total = len(body.nodes) if body.nodes is not None else body.total_nodes
    if total is None:
        raise ApiError(422, "validation_error", "total_nodes or nodes is required", field="total_nodes")
    if body.nodes is not None and body.total_nodes is not None and body.total_nodes != len(body.nodes):
        raise ApiError(422, "validation_error", "total_nodes does not match the number of nodes", field="total_nodes")
    if body.nodes is not None and len(set(body.nodes)) != len(body.nodes):
        raise ApiError(422, "validation_error", "nodes must be distinct", field="nodes")
    if body.threshold < 2:
        raise ApiError(422, "invalid_threshold", "threshold must be at least 2", field="threshold")
    if body.threshold > total:
        raise ApiError(422, "invalid_threshold", f"threshold {body.threshold} exceeds the {total} nodes",
                       field="threshold")
    if total > 255:
        raise ApiError(422, "validation_error", "at most 255 nodes", field="total_nodes")

    session_id = str(uuid.uuid4())
    workflow_id = workflow_id_for("keygen", principal, idempotency_key, session_id)
    if idempotency_key and (row := await _existing(db, workflow_id)) is not None:
        await settle_if_never_started(db, client_factory, row)
        return Started(row.session_id, row.key_id or "", workflow_id, None, replayed=True)
    await _check_capacity(db, None, settings.max_concurrent_sessions, settings)

    online = await online_nodes(db, settings)
    if body.nodes is not None:
        known = {n: await db.get(Node, n) for n in body.nodes}
        unknown = [n for n, row in known.items() if row is None]
        if unknown:
            raise ApiError(422, "unknown_nodes", f"unknown nodes: {', '.join(unknown)}", nodes=unknown)
        pending = [n for n, row in known.items() if row is not None and row.admission != Admission.ADMITTED]
        if pending:
            raise ApiError(409, "node_not_admitted", f"nodes not admitted by an admin: {', '.join(pending)}",
                           nodes=pending)
        offline = [n for n in body.nodes if n not in online]
        if offline:
            raise ApiError(409, "nodes_offline", f"nodes offline: {', '.join(offline)}", nodes=offline)
        chosen = list(body.nodes)
    else:
        if len(online) < total:
            raise ApiError(409, "not_enough_online_nodes", f"{total} nodes needed, {len(online)} online")
        chosen = sorted(online)[:total]
    parties = [party_of(online[n], i) for i, n in enumerate(chosen, start=1)]
    key_id = str(uuid.uuid4())
    policy = KeyPolicy.from_dict(body.policy.as_policy_dict() if body.policy else None)
    # Purpose binding (SECURITY.md I7): keys of a transaction chain sign transactions, not bare digests,
    # unless the request says otherwise; pinned on every node with the policy.
    raw_digest = body.allow_raw_digest if body.allow_raw_digest is not None else body.chain_type in RAW_DIGEST_CHAINS
    policy = dataclasses.replace(policy, allow_raw_digest=raw_digest)
    # The keygen intent fixes the roster (with identity keys), threshold and policy every node pins.
    intent = await issue(signer, operation="keygen", key_id=key_id, epoch=0, ttl=settings.intent_ttl, details={
        "protocol": KEY_PROTOCOLS[protocol].keygen.value, "curve": curve, "threshold": body.threshold,
        "roster": roster_of(parties), "policy": policy.to_dict(), "chain_type": body.chain_type})

    db.add(Key(key_id=key_id, protocol=protocol, curve=curve, threshold=body.threshold, total_nodes=total,
               participants=chosen, chain_type=body.chain_type, status="pending", description=body.description,
               tags=body.tags, public_data={"policy": policy.to_dict(), "roster": roster_of(parties)}))
    await db.flush()
    db.add(SigningSession(session_id=session_id, key_id=key_id, workflow_id=workflow_id, operation="keygen",
                          protocol=protocol, status="pending", participants=chosen))
    db.add(AuditLog(actor=principal.name, action="key.create", resource_type="key", resource_id=key_id,
                    session_id=session_id, status="accepted",
                    details={"protocol": protocol, "curve": curve, "threshold": body.threshold, "nodes": chosen,
                             idempotency.FINGERPRINT: idempotency.request_fingerprint(body)}))
    await db.flush()
    request = KeygenRequest(session_id=session_id, key_id=key_id, protocol=protocol, curve=curve,
                            chain_type=body.chain_type, threshold=body.threshold, parties=parties,
                            policy=policy_from(settings), requested_by=principal.name,
                            pool_target=settings.nonce_pool_target, intent=intent,
                            presign_pool_target=settings.presign_pool_target)
    attributes = initial_attributes(key_id=key_id, protocol=protocol, curve=curve, chain=body.chain_type,
                                    operation="keygen")
    handle = await commit_then_start(db, client_factory, settings, KeygenWorkflow.run, request, workflow_id,
                                     attributes, session_id=session_id, new_key_id=key_id)
    return Started(session_id, key_id, workflow_id, handle, replayed=False)


@dataclass
class SignSpec:
    """What a sign session signs: from a `SignCreate`, or from a transaction request (api/transactions.py)."""

    digest: str  # hex: a 32-byte digest, or the message a transaction needs signed (Solana: the whole message)
    signers: list[str] | None
    taproot_merkle_root: str | None
    derivation_path: str | None  # as requested; checked (and made canonical) here
    request: BaseModel  # the request body, fingerprinted for Idempotency-Key repeats
    transaction: dict[str, Any] | None = None  # {"chain", "payload"}: named in the intent, recomputed by each node
    record: dict[str, Any] | None = None  # the session's `transaction` column (summary and what the result needs)
    digests: list[str] | None = None  # a batch (raw digests, or a transaction's inputs): `digest` is "" then
    # A transaction batch (a PSBT's inputs): per digest its Taproot merkle root and BIP-32 child (None: the key).
    taproot_merkle_roots: list[str | None] | None = None
    derivation_paths: list[str | None] | None = None

    def per_digest(self) -> dict[str, Any]:
        """The per-digest lists the intent names, only where one entry is not None (raw batches have none)."""
        out: dict[str, Any] = {}
        if self.taproot_merkle_roots and any(r is not None for r in self.taproot_merkle_roots):
            out["taproot_merkle_roots"] = self.taproot_merkle_roots
        if self.derivation_paths and any(p is not None for p in self.derivation_paths):
            out["derivation_paths"] = self.derivation_paths
        return out


async def start_sign(db: AsyncSession, client_factory: ClientFactory, settings: Settings, principal: Principal,
                     key_id: str, body: SignCreate, idempotency_key: str | None, *, signer: IntentSigner,
                     coalescer: SignCoalescer[Started] | None = None) -> Started:
    key = await db.get(Key, key_id)
    if key is not None and not KeyPolicy.from_dict((key.public_data or {}).get("policy")).allow_raw_digest:
        raise ApiError(422, "raw_digest_not_allowed", f"key {key_id} signs transactions only "
                                                      "(POST /v1/keys/{key_id}/transactions): its policy pins "
                                                      "allow_raw_digest off", field="digest")
    spec = SignSpec(body.digest or "", body.signers, body.taproot_merkle_root, body.derivation_path, body,
                    digests=body.digests)
    return await start_signing(db, client_factory, settings, principal, key_id, spec, idempotency_key, signer=signer,
                               coalescer=coalescer)


async def start_signing(db: AsyncSession, client_factory: ClientFactory, settings: Settings, principal: Principal,
                        key_id: str, body: SignSpec, idempotency_key: str | None, *, signer: IntentSigner,
                        coalescer: SignCoalescer[Started] | None = None) -> Started:
    """`coalescer`: given for a caller that waits; a plain FROST digest then may join a batch session when
    sessions of the same key and caller are running (api/coalesce.py)."""
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    if key.status != "active":
        raise ApiError(409, "key_not_active", f"key {key_id} is {key.status}")
    if key.protocol not in IMPLEMENTED_PROTOCOLS:
        raise ApiError(422, "protocol_not_available", f"protocol {key.protocol} is not available on this service yet")
    if body.digests is not None and body.transaction is None and not batches_raw_digests(key, settings):
        # GG18, or GG20 without a presignature pool, runs one full signing per digest: offered for a PSBT's
        # inputs (a few), not for raw digest lists of up to 256.
        raise ApiError(422, "batch_not_supported", f"batch signing (`digests`) is available for FROST keys and "
                                                   f"GG20 keys with a presignature pool; key {key_id} is "
                                                   f"{key.protocol}: send one `digest` per request",
                       field="digests")
    if body.digests is not None and body.derivation_path is not None:
        raise ApiError(422, "batch_not_supported", "a batch signs with the key itself; a BIP-32 child "
                                                   "(`derivation_path`) signs one `digest` per request",
                       field="derivation_path")
    if body.taproot_merkle_root and not (key.chain_type == "bitcoin" and key.curve == "secp256k1-tr"):
        raise ApiError(422, "validation_error", "taproot_merkle_root applies to bitcoin Taproot keys only",
                       field="taproot_merkle_root")
    derivation_path = checked_path(key, body.derivation_path)
    for path in set(body.derivation_paths or []):
        if checked_path(key, path) != path:  # made canonical by the transaction's parse; checked again here
            raise ApiError(422, "invalid_derivation_path", f"{path} is not a canonical path", field="psbt")
    party_ids = party_ids_of(key)
    if body.signers is not None:
        strangers = [s for s in body.signers if s not in party_ids]
        if strangers:
            raise ApiError(422, "not_a_participant", f"not participants of the key: {', '.join(strangers)}",
                           nodes=strangers)
        if len(set(body.signers)) != len(body.signers) or len(body.signers) < key.threshold:
            raise ApiError(422, "invalid_signers", f"need at least {key.threshold} distinct signers", field="signers")

    session_id = str(uuid.uuid4())
    operation = "transaction" if body.transaction is not None else "sign"
    workflow_id = workflow_id_for(operation, principal, idempotency_key, session_id, scope=key_id)
    if idempotency_key and (row := await _existing(db, workflow_id)) is not None:
        await settle_if_never_started(db, client_factory, row)
        return Started(row.session_id, key_id, workflow_id, None, replayed=True)
    await _check_capacity(db, "sign", settings.max_concurrent_signings, settings)

    online = await online_nodes(db, settings)
    alternates: list[str] = []
    if body.signers is not None:
        offline = [s for s in body.signers if s not in online]
        if offline:
            raise ApiError(409, "nodes_offline", f"signers offline: {', '.join(offline)}", nodes=offline)
        chosen = sorted(body.signers, key=party_ids.__getitem__)
    else:
        chosen, alternates = default_signers(key, online)
    signers = [party_of(online[n], party_ids[n]) for n in chosen]
    spares = [party_of(online[n], party_ids[n]) for n in alternates]
    approvals_needed = KeyPolicy.from_dict((key.public_data or {}).get("policy")).required("sign")
    waits_for = settings.approval_timeout if approvals_needed else 0.0
    waits_for += batch_allowance(key, len(body.digests or []), settings)
    # One intent names everything signed: the digest (or transaction), or every digest of a batch in order.
    signed: dict[str, Any] = {"digests": body.digests, **body.per_digest()} if body.digests is not None else {
        "digest": body.digest}
    group = coalesce_group(key, body, principal, idempotency_key, approvals_needed,
                           batches_raw_digests(key, settings)) if coalescer else None
    release = coalescer.reserve(group) if coalescer is not None and group is not None else None
    if coalescer is not None and group is not None and release is None:
        # Sessions of this key and caller are running: the request is recorded, then joins the next batch.
        record_request(db, principal.name, key, session_id, workflow_id, chosen, body, derivation_path, signed)
        await _commit(db)
        return await coalescer.enqueue(group, session_id, body.digest)
    plan = SignPlan(principal.name, key, body, session_id, workflow_id, chosen, alternates, signers, spares,
                    approvals_needed, waits_for, derivation_path, signed)
    try:
        handle = await _start_signing(db, client_factory, settings, signer, plan)
    except BaseException:
        if release is not None:
            release()
        raise
    return Started(session_id, key_id, workflow_id, handle, replayed=False, release=release)


@dataclass
class SignPlan:
    """What a checked sign request was decided to be: its session, signers, and what the intent names."""

    requested_by: str  # the caller's name
    key: Key
    body: SignSpec
    session_id: str
    workflow_id: str
    chosen: list[str]
    alternates: list[str]
    signers: list[Party]
    spares: list[Party]
    approvals_needed: int
    waits_for: float
    derivation_path: str | None
    signed: dict[str, Any]  # the digest, or the digests (and per-digest roots and paths)

    def intent_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"protocol": self.key.protocol, **self.signed,
                                   "signers": [*self.chosen, *self.alternates],
                                   "taproot_merkle_root": self.body.taproot_merkle_root,
                                   "chain_type": self.key.chain_type, "derivation_path": self.derivation_path}
        if self.body.transaction is not None:
            details["transaction"] = self.body.transaction
        return details

    def sign_request(self, settings: Settings, intent: SessionIntent | None, *, digests: list[str] | None = None,
                     item_sessions: list[str] | None = None) -> SignRequest:
        """The workflow's input; `digests` and `item_sessions` for coalesced requests (api/sign_batching.py)."""
        body, key = self.body, self.key
        return SignRequest(session_id=self.session_id, key_id=key.key_id, protocol=key.protocol, curve=key.curve,
                           chain_type=key.chain_type, digest="" if digests else body.digest or "",
                           digests=list(digests or body.digests or []), signers=self.signers, alternates=self.spares,
                           use_pool=True, pool_target=settings.nonce_pool_target, policy=policy_from(settings),
                           requested_by=self.requested_by, taproot_merkle_root=body.taproot_merkle_root,
                           intent=intent, approvals_needed=self.approvals_needed,
                           approval_timeout_seconds=settings.approval_timeout, derivation_path=self.derivation_path,
                           taproot_merkle_roots=list(body.per_digest().get("taproot_merkle_roots", [])),
                           derivation_paths=list(body.per_digest().get("derivation_paths", [])),
                           presign_pool_target=settings.presign_pool_target, item_sessions=list(item_sessions or []))

    def attributes(self) -> TypedSearchAttributes:
        return initial_attributes(key_id=self.key.key_id, protocol=self.key.protocol, curve=self.key.curve,
                                  chain=self.key.chain_type, operation="sign")


async def _start_signing(db: AsyncSession, client_factory: ClientFactory, settings: Settings, signer: IntentSigner,
                         plan: SignPlan) -> WorkflowHandle:
    """The intent, the session's rows, and its workflow started. Vault signs the intent while the rows are
    written and the pool claimed (one round trip each, overlapped); nothing commits before both are done."""
    signing = asyncio.ensure_future(issue(signer, operation="sign", key_id=plan.key.key_id, epoch=plan.key.epoch,
                                          ttl=settings.intent_ttl + plan.waits_for, details=plan.intent_details()))
    try:
        rows = [record_request(db, plan.requested_by, plan.key, plan.session_id, plan.workflow_id, plan.chosen,
                               plan.body, plan.derivation_path, plan.signed)]
        await db.flush()
        request = await claim_first_attempt(db, settings, plan.sign_request(settings, None), rows)
        request = dataclasses.replace(request, intent=await signing)
    except BaseException:
        signing.cancel()
        with contextlib.suppress(BaseException):
            await signing
        raise
    return await commit_then_start(db, client_factory, settings, SignWorkflow.run, request, plan.workflow_id,
                                   plan.attributes(), session_id=plan.session_id, waits_for=plan.waits_for)


async def claim_first_attempt(db: AsyncSession, settings: Settings, request: SignRequest,
                              rows: list[SigningSession]) -> SignRequest:
    """In the transaction that records the session: claim the first attempt's pooled nonce commitments (FROST)
    or presignature (GG20) and set the rows running, so that the workflow's first step is the signers' round
    (one coordinator step fewer per signature). Nothing claimed (an empty pool, an approval quorum to wait
    for, a path the pool does not serve): the request is unchanged and the workflow claims as before."""
    if request.approvals_needed or not request.use_pool:
        return request
    attempt = request.attempt_id(1)
    nodes = [s.node_id for s in request.signers]
    rounds = 1
    if KEY_PROTOCOLS[request.protocol].family == Family.FROST:
        claimed = await claim_commitments(db, ClaimCommitmentsInput(request.key_id, attempt, nodes,
                                                                    max(1, len(request.digests))))
        if not claimed.commitments:
            return request
        request = dataclasses.replace(request, claimed=claimed)
    elif request.pooled_gg20_batch():
        batch = await claim_presignatures(db, request.key_id, nodes,
                                          [f"{attempt}.{i}" for i in range(len(request.digests))])
        if not batch.count():
            return request
        request = dataclasses.replace(request, claimed_presignatures=batch)
        rounds = batch.total_rounds(sign_rounds(request.protocol))
    elif request.pooled_gg20_digest():
        presignature = await claim_presignature(db, ClaimPresignatureInput(request.key_id, nodes, attempt))
        if presignature.presig_id is None:
            return request
        request = dataclasses.replace(request, claimed_presignature=presignature)
    else:
        return request
    started = datetime.now(UTC)
    for row in rows:
        row.status, row.current_round, row.total_rounds, row.started_at = "running", 1, rounds, started
    return request


def batch_allowance(key: Key, count: int, settings: Settings) -> float:
    """Seconds an ECDSA batch of `count` digests may need beyond one session: each digest the presignature
    pool cannot serve runs a full GG18/GG20 signing, one after another. The intent must outlive the last
    one, and the workflow's backstop timeout grows with them."""
    if KEY_PROTOCOLS[key.protocol].family != Family.ECDSA or count < 2:
        return 0.0
    return settings.session_timeout * (count - 1)


def batches_raw_digests(key: Key, settings: Settings) -> bool:
    """Whether a batch of raw digests signs in one round: FROST (one nonce per digest), or GG20 with a
    presignature pool (one presignature per digest; digests the pool cannot serve presign in the session)."""
    return KEY_PROTOCOLS[key.protocol].family == Family.FROST or (
        key.protocol == "gg20" and settings.presign_pool_target > 0)


def coalesce_group(key: Key, body: SignSpec, principal: Principal, idempotency_key: str | None,
                   approvals_needed: int, batches: bool) -> GroupKey | None:
    """The batch a request may join: a plain digest the key itself signs, of a key that `batches` raw
    digests, with no signer choice, no approval quorum and no Idempotency-Key (whose workflow id is the
    request's own); else None."""
    plain = (body.digests is None and body.transaction is None and body.derivation_path is None
             and not body.taproot_merkle_root and body.signers is None)
    if not plain or idempotency_key or approvals_needed or not batches:
        return None
    return key.key_id, principal.name


def record_request(db: AsyncSession, actor: str, key: Key, session_id: str, workflow_id: str,
                   chosen: list[str], body: SignSpec, derivation_path: str | None,
                   signed: dict[str, Any]) -> SigningSession:
    """The session row (pending) and the request's audit entry, in the caller's transaction."""
    operation = "transaction" if body.transaction is not None else "sign"
    row = SigningSession(session_id=session_id, key_id=key.key_id, workflow_id=workflow_id, operation="sign",
                          protocol=key.protocol, status="pending", participants=chosen,
                          message_hash=None if body.digests is not None else body.digest if len(body.digest) <= 128
                          else hashlib.sha256(bytes.fromhex(body.digest)).hexdigest(),
                          message_hashes=body.digests, derivation_path=derivation_path, transaction=body.record)
    db.add(row)
    summary = {"transaction": (body.record or {}).get("summary")} if body.transaction is not None else {}
    db.add(AuditLog(actor=actor, action=f"key.{operation}_request", resource_type="key", resource_id=key.key_id,
                    session_id=session_id, status="accepted",
                    details={**signed, "signers": chosen, "derivation_path": derivation_path, **summary,
                             idempotency.FINGERPRINT: idempotency.request_fingerprint(body.request)}))
    return row


async def _commit(db: AsyncSession) -> None:
    try:
        await db.commit()
    except IntegrityError:  # a concurrent request with the same Idempotency-Key committed first
        await db.rollback()
        raise ApiError(409, "duplicate_request", "this Idempotency-Key is being used by a request in flight") from None
