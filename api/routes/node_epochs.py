"""A node's nonce-epoch token, kept in the database, off the node's disk (SECURITY.md N4).

`GET /v1/nodes/{id}/nonce-epoch`: what a participant asks at start, before it serves any round; a token
other than the one it applied last makes it bump its nonce epoch. `POST` (admin): a new token, for a node
restored from a volume snapshot outside `mpc backup restore` (`mpc nodes reset-nonce-epoch`); the node
applies it at its next start. The work is in api/operations/nodes.py; the POST is shared with the gRPC API,
the GET (the participants' own channel, like registration and heartbeats) is REST only.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.operations import Caller
from api.operations import nodes as operations
from api.operations.nodes import NonceEpochPublic
from api.routes.nodes import _speaks_for

router = APIRouter(prefix="/v1/nodes", tags=["nodes"], responses=error_responses(401, 403, 404, 422))


@router.get("/{node_id}/nonce-epoch", response_model=NonceEpochPublic, summary="A node's nonce-epoch token",
            dependencies=[require_role("node")])
async def get_nonce_epoch(node_id: str, db: DbSession, principal: CurrentPrincipal) -> NonceEpochPublic:
    _speaks_for(principal, node_id)
    return await operations.nonce_epoch(db, node_id)


@router.post("/{node_id}/nonce-epoch", response_model=NonceEpochPublic,
             summary="Void every nonce and presignature the node made so far (at its next start; admin)",
             dependencies=[require_role("admin")])
async def reset_nonce_epoch(node_id: str, db: DbSession, state: State,
                            principal: CurrentPrincipal) -> NonceEpochPublic:
    return await operations.reset_nonce_epoch(Caller(state, db, principal), node_id)
