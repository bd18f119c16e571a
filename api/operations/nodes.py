"""Nodes (list, show, admit, remove, reset the nonce epoch) and API tokens (list, revoke). Registration,
heartbeats and a node's read of its own nonce-epoch token stay REST-only: they are the participants' own
channel (api/routes/nodes.py, api/routes/node_epochs.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import revoke_token
from api.errors import ApiError
from api.operations.context import Caller
from api.schemas import NodeList, NodePublic
from mpc.backup.restore import bump_node_epochs
from mpc.db.models import Admission, ApiToken, AuditLog, Node, NodeNonceEpoch


def node_status(node: Node, offline_after: float, now: datetime | None = None) -> tuple[str, float]:
    now = now or datetime.now(UTC)
    age = (now - node.last_heartbeat).total_seconds()
    return ("online" if age <= offline_after else "offline"), max(age, 0.0)


def to_public(node: Node, offline_after: float) -> NodePublic:
    status, age = node_status(node, offline_after)
    return NodePublic(
        node_id=node.node_id, node_type=node.node_type, endpoint=node.endpoint, status=status,
        admission=node.admission,
        signing_public_key=node.signing_public_key, encryption_public_key=node.encryption_public_key,
        capabilities=node.capabilities, version=node.version, metrics_url=node.metrics_url or "",
        registered_at=node.registered_at,
        last_heartbeat=node.last_heartbeat, seconds_since_heartbeat=round(age, 3),
        pool_levels=dict(node.pool_levels or {}),
    )


async def list_nodes(caller: Caller) -> NodeList:
    nodes = (await caller.db.execute(select(Node).order_by(Node.node_id))).scalars().all()
    public = [to_public(n, caller.state.settings.node_offline_after) for n in nodes]
    return NodeList(nodes=public, online=sum(n.status == "online" for n in public), total=len(public))


async def _node(db: AsyncSession, node_id: str) -> Node:
    node = await db.get(Node, node_id)
    if node is None:
        raise ApiError(404, "node_not_found", f"node {node_id} is not registered", node=node_id)
    return node


async def get_node(caller: Caller, node_id: str) -> NodePublic:
    return to_public(await _node(caller.db, node_id), caller.state.settings.node_offline_after)


async def approve_node(caller: Caller, node_id: str) -> NodePublic:
    """Admit a pending node (admin); every approval is audited."""
    db = caller.db
    node = await _node(db, node_id)
    if node.admission != Admission.ADMITTED:
        node.admission = Admission.ADMITTED
        db.add(AuditLog(actor=caller.principal.name, action="node.approve", resource_type="node", resource_id=node_id,
                        details={"signing_public_key": node.signing_public_key,
                                 "encryption_public_key": node.encryption_public_key}))
        await db.commit()
        await db.refresh(node)
    return to_public(node, caller.state.settings.node_offline_after)


async def remove_node(caller: Caller, node_id: str) -> None:
    """Forget a node (admin); it must register and be approved again."""
    db = caller.db
    node = await _node(db, node_id)
    await db.delete(node)
    db.add(AuditLog(actor=caller.principal.name, action="node.remove", resource_type="node", resource_id=node_id,
                    details={"signing_public_key": node.signing_public_key}))
    await db.commit()


class NonceEpochPublic(BaseModel):
    node_id: str
    counter: int
    token: str | None  # None: never restored


async def nonce_epoch(db: AsyncSession, node_id: str) -> NonceEpochPublic:
    """A node's nonce-epoch token (SECURITY.md N4), kept in the database, off the node's disk."""
    await _node(db, node_id)
    row = await db.get(NodeNonceEpoch, node_id)
    return NonceEpochPublic(node_id=node_id, counter=row.counter if row else 0, token=row.token if row else None)


async def reset_nonce_epoch(caller: Caller, node_id: str) -> NonceEpochPublic:
    """A new token (admin): the node voids every nonce and presignature it made so far at its next start."""
    db, principal = caller.db, caller.principal
    await _node(db, node_id)
    await bump_node_epochs(caller.state.sessions, [node_id], f"reset by {principal.name}")
    db.add(AuditLog(actor=principal.name, action="node.reset_nonce_epoch", resource_type="node", resource_id=node_id,
                    details={}))
    await db.commit()
    return await nonce_epoch(db, node_id)


class TokenPublic(BaseModel):
    """What is known about a token; never its value (only its hash is stored)."""

    token_id: str
    name: str
    role: str
    node_id: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class TokenList(BaseModel):
    tokens: list[TokenPublic]


def _token_public(row: ApiToken) -> TokenPublic:
    return TokenPublic(token_id=row.token_id, name=row.name, role=row.role, node_id=row.node_id,
                       created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at)


async def list_tokens(db: AsyncSession) -> TokenList:
    rows = (await db.execute(select(ApiToken).order_by(ApiToken.created_at.desc()))).scalars().all()
    return TokenList(tokens=[_token_public(r) for r in rows])


async def revoke(caller: Caller, token_id: str) -> TokenPublic:
    row = await revoke_token(caller.db, token_id, actor=caller.principal.name)
    if row is None:
        raise ApiError(404, "token_not_found", f"token {token_id} does not exist")
    await caller.db.commit()
    await caller.db.refresh(row)
    return _token_public(row)
