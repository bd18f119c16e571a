"""Refresh and reshare a key: the API validates the change, names it in a signed intent, starts the workflow.

Refresh keeps the committee and threshold (every holder must be online: each re-deals its share).
Reshare moves the key to a new committee and/or threshold with only t old holders online: they deal,
the new committee receives. Party ids stay with their nodes; a node that joins gets a fresh one. The
intent names the old roster and public key package, the dealers, the new roster and threshold, and
the policy: every node checks it against what it holds (activities/reshare_authorisation.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import idempotency
from api.auth import Principal
from api.errors import ApiError
from api.intent_issuer import issue
from api.orchestration import (
    ClientFactory,
    Started,
    _existing,
    commit_then_start,
    online_nodes,
    party_ids_of,
    party_of,
    policy_from,
    workflow_id_for,
)
from mpc.db.models import Admission, AuditLog, Key, Node, SigningSession
from mpc.hd import key_chain_code
from mpc.intent_keys import IntentSigner
from mpc.intents import KeyPolicy
from mpc.protocols import KEY_PROTOCOLS
from mpc.settings import Settings
from workflows.reshare import ReshareWorkflow, phase_two_budget
from workflows.search import initial_attributes
from workflows.types import Party, ReshareRequest, roster_of

ACTIVE_SESSION_STATES = ("pending", "awaiting_approval", "running")
MAX_NODES = 255


class ReshareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: int = Field(ge=2, le=MAX_NODES, description="the new threshold t'")
    nodes: list[str] = Field(min_length=2, max_length=MAX_NODES, description="the new committee (node ids)")
    reason: str | None = Field(default=None, max_length=500, description="why, for the audit log and epoch history")


class RefreshCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, description="why, for the audit log and epoch history")


async def start_change(db: AsyncSession, client_factory: ClientFactory, settings: Settings, principal: Principal,
                       key_id: str, body: ReshareCreate | RefreshCreate, idempotency_key: str | None, *,
                       signer: IntentSigner) -> Started:
    operation = "reshare" if isinstance(body, ReshareCreate) else "refresh"
    # The key row stays locked until the session row is committed: two requests at once cannot both
    # pass the one-change-at-a-time check below.
    key = await db.get(Key, key_id, with_for_update=True)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    session_id = str(uuid.uuid4())
    workflow_id = workflow_id_for(operation, principal, idempotency_key, session_id, scope=key_id)
    if idempotency_key and (row := await _existing(db, workflow_id)) is not None:
        await idempotency.refuse_changed_request(db, row, body)
        return Started(row.session_id, key_id, workflow_id, None, replayed=True)
    if key.status != "active":
        raise ApiError(409, "key_not_active", f"key {key_id} is {key.status}; only an active key is {operation}ed")
    protocol = KEY_PROTOCOLS[key.protocol]
    session_protocol = protocol.reshare if operation == "reshare" else protocol.refresh
    if session_protocol is None:
        raise ApiError(422, "protocol_not_available", f"{operation} of {key.protocol} keys is not available yet")
    await _refuse_concurrent(db, key_id)

    holders = list(key.participants)
    pids = party_ids_of(key)
    online = await online_nodes(db, settings)
    old_rows = {n: await db.get(Node, n) for n in holders}
    old_parties = [party_of(row, pids[n]) for n, row in old_rows.items() if row is not None]
    if operation == "refresh":
        offline = [n for n in holders if n not in online]
        if offline:
            raise ApiError(409, "nodes_offline", f"a refresh needs every holder online: {', '.join(offline)}",
                           nodes=offline)
        new_parties, threshold, dealers = old_parties, key.threshold, old_parties
    else:
        assert isinstance(body, ReshareCreate)
        new_parties, threshold = await _new_committee(db, body, online, pids, key), body.threshold
        dealers = [p for p in old_parties if p.node_id in online][: key.threshold]
        if len(dealers) < key.threshold:
            raise ApiError(409, "not_enough_online_nodes", f"{key.threshold} old holders must be online to deal, "
                                                           f"{len(dealers)} are")
    policy = KeyPolicy.from_dict((key.public_data or {}).get("policy"))
    needed = policy.required(operation)
    waits_for = settings.approval_timeout if needed else 0.0
    old_roster = (key.public_data or {}).get("roster") or roster_of(old_parties)
    details: dict[str, Any] = {
        "protocol": session_protocol.value, "old_roster": old_roster,
        "old_package": (key.public_data or {}).get("package"), "dealers": sorted(p.party_id for p in dealers),
        "new_roster": roster_of(new_parties), "new_threshold": threshold, "policy": policy.to_dict(),
        "reason": body.reason,
        # What the new shares pin besides the policy: every dealer compares them with its own.
        "chain_type": key.chain_type, "chain_code": key_chain_code(key.public_data),
    }
    intent = await issue(signer, operation=operation, key_id=key_id, epoch=key.epoch,
                         ttl=settings.intent_ttl + waits_for, details=details)
    involved = sorted({p.node_id for p in [*dealers, *new_parties]})
    db.add(SigningSession(session_id=session_id, key_id=key_id, workflow_id=workflow_id, operation=operation,
                          protocol=key.protocol, status="pending", participants=involved))
    db.add(AuditLog(actor=principal.name, action=f"key.{operation}_request", resource_type="key", resource_id=key_id,
                    session_id=session_id, status="accepted",
                    details={"reason": body.reason, "threshold": threshold,
                             "nodes": [p.node_id for p in new_parties], "dealers": [p.node_id for p in dealers],
                             idempotency.FINGERPRINT: idempotency.request_fingerprint(body)}))
    await db.flush()
    request = ReshareRequest(
        session_id=session_id, key_id=key_id, operation=operation, protocol=session_protocol.value,
        key_protocol=key.protocol, curve=key.curve,
        epoch=key.epoch, dealers=dealers, new_parties=new_parties, new_threshold=threshold, old_holders=old_parties,
        intent=intent, policy=policy_from(settings), requested_by=principal.name, reason=body.reason,
        pool_target=settings.nonce_pool_target, approvals_needed=needed,
        approval_timeout_seconds=settings.approval_timeout)
    attributes = initial_attributes(key_id=key_id, protocol=key.protocol, curve=key.curve, chain=key.chain_type,
                                    operation=operation)
    budget = waits_for + phase_two_budget(settings.round_timeout, len(old_parties))
    handle = await commit_then_start(db, client_factory, settings, ReshareWorkflow.run, request, workflow_id,
                                     attributes, session_id=session_id, waits_for=budget)
    return Started(session_id, key_id, workflow_id, handle, replayed=False)


async def _refuse_concurrent(db: AsyncSession, key_id: str) -> None:
    """One change of the committee at a time (a recovery from escrow is one): a second would deal from shares the
    first replaces, or replace the shares a recovery staged."""
    running = (await db.execute(select(SigningSession.session_id).where(
        SigningSession.key_id == key_id, SigningSession.operation.in_(("reshare", "refresh", "recover")),
        SigningSession.status.in_(ACTIVE_SESSION_STATES)))).scalars().first()
    if running is not None:
        raise ApiError(409, "session_in_progress", f"key {key_id} is already being reshared (session {running})")


async def _new_committee(db: AsyncSession, body: ReshareCreate, online: dict[str, Node], pids: dict[str, int],
                         key: Key) -> list[Party]:
    nodes = body.nodes
    if len(set(nodes)) != len(nodes):
        raise ApiError(422, "validation_error", "nodes must be distinct", field="nodes")
    if body.threshold > len(nodes):
        raise ApiError(422, "invalid_threshold", f"threshold {body.threshold} exceeds the {len(nodes)} nodes",
                       field="threshold")
    rows = {n: await db.get(Node, n) for n in nodes}
    unknown = [n for n, row in rows.items() if row is None]
    if unknown:
        raise ApiError(422, "unknown_nodes", f"unknown nodes: {', '.join(unknown)}", nodes=unknown)
    pending = [n for n, row in rows.items() if row is not None and row.admission != Admission.ADMITTED]
    if pending:
        raise ApiError(409, "node_not_admitted", f"nodes not admitted by an admin: {', '.join(pending)}",
                       nodes=pending)
    offline = [n for n in nodes if n not in online]
    if offline:
        raise ApiError(409, "nodes_offline", f"new holders must be online: {', '.join(offline)}", nodes=offline)
    next_pid = int((key.public_data or {}).get("next_party_id") or max(pids.values(), default=0) + 1)
    parties = []
    for node in nodes:
        if node not in pids:
            pids = {**pids, node: next_pid}
            next_pid += 1
        parties.append(party_of(online[node], pids[node]))
    return sorted(parties, key=lambda p: p.party_id)
