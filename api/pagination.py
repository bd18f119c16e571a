"""One page of a filtered query plus the total count (the list endpoints all answer this way)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_OFFSET = 2**63 - 1
"""PostgreSQL's OFFSET is a 64-bit integer: a larger one is refused as 422, not a database error."""


async def page(
    db: AsyncSession, query: Select[Any], order_by: Any, limit: int, offset: int
) -> tuple[Sequence[Any], int]:
    total = (await db.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await db.execute(query.order_by(order_by).limit(limit).offset(offset))).scalars().all()
    return rows, int(total)
