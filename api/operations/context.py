"""What every operation is called with, and what a session-starting operation answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.state import AppState

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Caller:
    """The API process's clients, a database session for this call, and who is calling."""

    state: AppState
    db: AsyncSession
    principal: Principal


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A started session. `finished`: the caller asked to wait and the session ended (REST answers 200, else 202)."""

    body: T
    finished: bool
