"""Shared FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, authenticate
from api.errors import ApiError
from api.state import AppState

_bearer = HTTPBearer(auto_error=False)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.mpc
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_db(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_db)]


async def current_principal(
    state: State,
    db: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if state.settings.auth_type == "none":
        return Principal(token_id="anonymous", name="anonymous", role="admin")  # noqa: S106
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "a bearer token is required")
    principal = await authenticate(db, credentials.credentials)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or expired token")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str):
    async def _check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles and principal.role != "admin":
            raise ApiError(403, "forbidden", f"this call needs role {' or '.join(roles)}")
        return principal

    return Depends(_check)
