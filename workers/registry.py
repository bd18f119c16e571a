"""Which workflows and activities each worker serves (one place, so tests and workers agree)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mpc.settings import Settings
from workflows.ping import PingNodeWorkflow


def coordinator_workflows() -> list[type]:
    return [PingNodeWorkflow]


async def coordinator_activities(settings: Settings) -> tuple[list[Callable[..., Any]], Callable[[], Awaitable[None]]]:
    """Activities of the coordinator, and a closer for the resources they hold."""

    async def close() -> None:
        return None

    return [], close
