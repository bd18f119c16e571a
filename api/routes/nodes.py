"""Participant registration, heartbeats and the node list.

A node proves possession of its identity key by signing its registration and every heartbeat.
The first registration pins the node's keys; a later registration under the same node id with
other keys is refused (a node cannot be impersonated by re-registering), until an operator
removes the node.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from fastapi import APIRouter
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import func, select

from api.auth import Principal
from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError, error_responses
from api.metrics import NODES_ONLINE, NODES_TOTAL
from api.operations import Caller
from api.operations import nodes as operations
from api.operations.nodes import to_public
from api.schemas import NodeHeartbeat, NodeList, NodePublic, NodeRegistration
from mpc.db.models import Admission, AuditLog, Node
from mpc.node_auth import heartbeat_message, registration_message

router = APIRouter(prefix="/v1/nodes", tags=["nodes"], responses=error_responses(401))
_SIGNED = error_responses(400, 401, 403, 422, s401="no valid token, or the node signature does not verify "
                                              "(`bad_node_signature`)",
                          s403="the token's role may not make this call, or it is bound to another node",
                          s422="invalid input, or a timestamp that is not finite, stale or not later than the last one")

MAX_CLOCK_SKEW = 300.0


def _verify(public_hex: str, message: bytes, signature_hex: str) -> None:
    try:
        VerifyKey(bytes.fromhex(public_hex)).verify(message, bytes.fromhex(signature_hex))
    except (BadSignatureError, ValueError):
        raise ApiError(401, "bad_node_signature", "the node signature does not verify") from None


def _fresh(timestamp: float) -> None:
    if not math.isfinite(timestamp):
        raise ApiError(422, "invalid_timestamp", "timestamp must be a finite number of seconds")
    if abs(time.time() - timestamp) > MAX_CLOCK_SKEW:
        raise ApiError(422, "stale_timestamp", "timestamp is more than 5 minutes from the server clock")


def _later_than_last(node: Node, timestamp: float) -> None:
    """Each signed registration or heartbeat must carry a later timestamp than the last one accepted,
    so a captured heartbeat cannot be replayed to keep a dead node "online"."""
    if node.heartbeat_timestamp is not None and timestamp <= node.heartbeat_timestamp:
        raise ApiError(422, "replayed_timestamp", "timestamp is not later than the node's last accepted one",
                       node=node.node_id)


def _speaks_for(principal: Principal, node_id: str) -> None:
    """A node token is bound to one node id (SECURITY.md A4); admins may act for any node."""
    if principal.role == "admin":
        return
    if principal.node_id != node_id:
        raise ApiError(403, "wrong_node", f"this token is not bound to node {node_id}", node=node_id)


@router.post("/register", response_model=NodePublic, summary="Register a participant node (signed)",
             dependencies=[require_role("node")],
             responses={**_SIGNED, **error_responses(409, s409="the node id is registered with other identity keys")})
async def register(reg: NodeRegistration, db: DbSession, state: State, principal: CurrentPrincipal) -> NodePublic:
    _speaks_for(principal, reg.node_id)
    _fresh(reg.timestamp)
    _verify(reg.signing_public_key, registration_message(reg.model_dump()), reg.signature)
    node = await db.get(Node, reg.node_id)
    now = datetime.now(UTC)
    if node is not None and (
        node.signing_public_key != reg.signing_public_key or node.encryption_public_key != reg.encryption_public_key
    ):
        raise ApiError(409, "node_key_mismatch",
                       f"node {reg.node_id} is registered with other identity keys", node=reg.node_id)
    if node is not None:
        _later_than_last(node, reg.timestamp)
    action = "node.reregister" if node is not None else "node.register"
    if node is None:  # a new node waits for an admin (`POST /v1/nodes/{id}/approve`) before any key uses it
        node = Node(node_id=reg.node_id, signing_public_key=reg.signing_public_key,
                    encryption_public_key=reg.encryption_public_key, admission=Admission.PENDING)
        db.add(node)
    node.endpoint, node.capabilities, node.version = reg.endpoint, reg.capabilities, reg.version
    node.metrics_url = reg.metrics_url
    node.node_type, node.status, node.last_heartbeat = "participant", "online", now
    node.heartbeat_timestamp = reg.timestamp
    db.add(AuditLog(actor=principal.name, action=action, resource_type="node", resource_id=reg.node_id,
                    details={"endpoint": reg.endpoint, "capabilities": reg.capabilities,
                             "metrics_url": reg.metrics_url}))
    await db.commit()
    await db.refresh(node)
    return to_public(node, state.settings.node_offline_after)


@router.post("/{node_id}/heartbeat", response_model=NodePublic, summary="Heartbeat (signed)",
             dependencies=[require_role("node")], responses={**_SIGNED, **error_responses(404)})
async def heartbeat(node_id: str, beat: NodeHeartbeat, db: DbSession, state: State,
                    principal: CurrentPrincipal) -> NodePublic:
    _speaks_for(principal, node_id)
    node = await db.get(Node, node_id)
    if node is None:
        raise ApiError(404, "node_not_found", f"node {node_id} is not registered", node=node_id)
    _fresh(beat.timestamp)
    _verify(node.signing_public_key, heartbeat_message(node_id, beat.timestamp, beat.pool_levels), beat.signature)
    _later_than_last(node, beat.timestamp)
    node.last_heartbeat, node.status = datetime.now(UTC), "online"
    node.heartbeat_timestamp = beat.timestamp
    if beat.pool_levels is not None:  # a node that reports none keeps its last known levels
        node.pool_levels = dict(beat.pool_levels)
    await db.commit()
    await db.refresh(node)
    return to_public(node, state.settings.node_offline_after)


@router.get("", response_model=NodeList, summary="Nodes with online/offline status from the last heartbeat",
            responses={200: {"description": "every registered node"}})
async def list_nodes(db: DbSession, state: State, _: CurrentPrincipal) -> NodeList:
    return await operations.list_nodes(Caller(state, db, _))


@router.get("/{node_id}", response_model=NodePublic, summary="One node", responses=error_responses(404, 422))
async def get_node(node_id: str, db: DbSession, state: State, _: CurrentPrincipal) -> NodePublic:
    return await operations.get_node(Caller(state, db, _), node_id)


@router.post("/{node_id}/approve", response_model=NodePublic, summary="Admit a pending node (admin)",
             dependencies=[require_role("admin")], responses=error_responses(403, 404, 422))
async def approve(node_id: str, db: DbSession, state: State, principal: CurrentPrincipal) -> NodePublic:
    return await operations.approve_node(Caller(state, db, principal), node_id)


@router.delete("/{node_id}", status_code=204, summary="Remove a node (admin); it must register and be approved again",
               dependencies=[require_role("admin")], responses=error_responses(403, 404, 422))
async def remove(node_id: str, db: DbSession, state: State, principal: CurrentPrincipal) -> None:
    await operations.remove_node(Caller(state, db, principal), node_id)


async def refresh_node_gauges(state: State) -> None:
    async with state.sessions() as db:
        total = (await db.execute(select(func.count()).select_from(Node))).scalar_one()
        cutoff = datetime.now(UTC).timestamp() - state.settings.node_offline_after
        online = (await db.execute(
            select(func.count()).select_from(Node).where(
                Node.last_heartbeat >= datetime.fromtimestamp(cutoff, UTC))
        )).scalar_one()
    NODES_TOTAL.set(total)
    NODES_ONLINE.set(online)
