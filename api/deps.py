"""Shared FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, check_role, resolve_principal
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
    request: Request,
    state: State,
    db: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    bearer = (credentials.scheme, credentials.credentials) if credentials is not None else None
    return await resolve_principal(state.settings, db, bearer=bearer, client_certificate=client_certificate(request))


def client_certificate(request: Request) -> bytes | None:
    """The verified client certificate of this connection (PEM), which api/tls.py puts in the ASGI `tls`
    extension; None without TLS or without a certificate."""
    chain = request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return chain[0].encode() if chain else None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str):
    async def _check(principal: CurrentPrincipal) -> Principal:
        check_role(principal, roles)
        return principal

    return Depends(_check)
