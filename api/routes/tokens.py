"""API tokens an admin can see and revoke (creation stays a database-side admin command, `mpc tokens create`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.auth import revoke_token
from api.deps import CurrentPrincipal, DbSession, require_role
from api.errors import ApiError, error_responses
from mpc.db.models import ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], dependencies=[require_role("admin")],
                   responses=error_responses(401, 403))


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


def _public(row: ApiToken) -> TokenPublic:
    return TokenPublic(token_id=row.token_id, name=row.name, role=row.role, node_id=row.node_id,
                       created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at)


@router.get("", response_model=TokenList, summary="API tokens (admin)")
async def list_tokens(db: DbSession) -> TokenList:
    rows = (await db.execute(select(ApiToken).order_by(ApiToken.created_at.desc()))).scalars().all()
    return TokenList(tokens=[_public(r) for r in rows])


@router.delete("/{token_id}", response_model=TokenPublic, summary="Revoke a token at once (admin)",
               responses=error_responses(404, 422))
async def revoke(token_id: str, db: DbSession, principal: CurrentPrincipal) -> TokenPublic:
    row = await revoke_token(db, token_id, actor=principal.name)
    if row is None:
        raise ApiError(404, "token_not_found", f"token {token_id} does not exist")
    await db.commit()
    await db.refresh(row)
    return _public(row)
