"""Participant activities that are not protocol rounds: liveness through Temporal."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import activity

from mpc.protocols import Activity
from workflows.ping import PingInput, PingResult


@dataclass
class NodeActivities:
    """Bound to one node; registered on that node's own task queue only."""

    node_id: str
    signing_public_key: str
    encryption_public_key: str

    @activity.defn(name=Activity.PING.value)
    async def ping(self, request: PingInput) -> PingResult:
        if request.node_id != self.node_id:
            # Routing put another node's ping on this queue: say so instead of answering for it.
            raise RuntimeError(f"ping for {request.node_id} reached {self.node_id}")
        return PingResult(self.node_id, self.signing_public_key, self.encryption_public_key)
