"""API tokens an admin can see and revoke (creation stays a database-side admin command, `mpc tokens create`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, DbSession, State, require_role
from api.errors import error_responses
from api.operations import Caller
from api.operations import nodes as operations
from api.operations.nodes import TokenList, TokenPublic

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], dependencies=[require_role("admin")],
                   responses=error_responses(401, 403))


@router.get("", response_model=TokenList, summary="API tokens (admin)")
async def list_tokens(db: DbSession) -> TokenList:
    return await operations.list_tokens(db)


@router.delete("/{token_id}", response_model=TokenPublic, summary="Revoke a token at once (admin)",
               responses=error_responses(404, 422))
async def revoke(token_id: str, db: DbSession, state: State, principal: CurrentPrincipal) -> TokenPublic:
    return await operations.revoke(Caller(state, db, principal), token_id)
