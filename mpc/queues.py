"""Task-queue names and shared enums: the one place these strings live."""

from __future__ import annotations

COORDINATOR_TASK_QUEUE = "mpc-coordinator"
API_TASK_QUEUE = "mpc-api"
"""Served by the API process itself: activities that need the API's intent key (a scheduled refresh)."""


def participant_task_queue(node_id: str) -> str:
    """Temporal routes each protocol round to exactly this node through its own queue."""
    return f"mpc-participant-{node_id}"
