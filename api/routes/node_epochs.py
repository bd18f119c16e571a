"""A node's nonce-epoch token, kept in the database, off the node's disk (SECURITY.md N4).

`GET /v1/nodes/{id}/nonce-epoch`: what a participant asks at start, before it serves any round; a token
other than the one it applied last makes it bump its nonce epoch. `POST` (admin): a new token, for a node
restored from a volume snapshot outside `mpc backup restore` (`mpc nodes reset-nonce-epoch`); the node
applies it at its next start.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import ApiError, error_responses
from api.routes.nodes import _speaks_for
from mpc.backup.restore import bump_node_epochs
from mpc.db.models import AuditLog, Node, NodeNonceEpoch

router = APIRouter(prefix="/v1/nodes", tags=["nodes"], responses=error_responses(401, 403, 404, 422))


class NonceEpochPublic(BaseModel):
    node_id: str
    counter: int
    token: str | None  # None: never restored


async def _view(db: DbSession, node_id: str) -> NonceEpochPublic:
    if await db.get(Node, node_id) is None:
        raise ApiError(404, "node_not_found", f"node {node_id} is not registered", node=node_id)
    row = await db.get(NodeNonceEpoch, node_id)
    return NonceEpochPublic(node_id=node_id, counter=row.counter if row else 0, token=row.token if row else None)


@router.get("/{node_id}/nonce-epoch", response_model=NonceEpochPublic, summary="A node's nonce-epoch token",
            dependencies=[require_role("node")])
async def get_nonce_epoch(node_id: str, db: DbSession, principal: CurrentPrincipal) -> NonceEpochPublic:
    _speaks_for(principal, node_id)
    return await _view(db, node_id)


@router.post("/{node_id}/nonce-epoch", response_model=NonceEpochPublic,
             summary="Void every nonce and presignature the node made so far (at its next start; admin)",
             dependencies=[require_role("admin")])
async def reset_nonce_epoch(node_id: str, db: DbSession, state: State,
                            principal: CurrentPrincipal) -> NonceEpochPublic:
    if await db.get(Node, node_id) is None:
        raise ApiError(404, "node_not_found", f"node {node_id} is not registered", node=node_id)
    await bump_node_epochs(state.sessions, [node_id], f"reset by {principal.name}")
    db.add(AuditLog(actor=principal.name, action="node.reset_nonce_epoch", resource_type="node", resource_id=node_id,
                    details={}))
    await db.commit()
    return await _view(db, node_id)
