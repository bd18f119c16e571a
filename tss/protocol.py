"""The generic round-protocol interface the orchestration layer drives.

A participant node runs one `RoundProtocol` per session. Between rounds the node keeps the
protocol's state as opaque bytes, encrypted at rest (it holds nonces and secret shares), keyed by
(session id, round). The workflow never sees it: it only relays `RoundMessage`s.

Round k is called with the state returned by round k-1 (round 1 gets the bytes of
`initial_state`) and the messages addressed to this party that round k-1 produced. The last round
returns `result` (the secret output, e.g. a key share, to be stored by the node) and
`public_result` (what the coordinator may record: group key, verifying shares, signature).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tss.messages import RoundMessage
from tss.rng import Rng


@dataclass(frozen=True, slots=True)
class RoundOutput:
    """What one round of one party yields.

    Attributes:
        state: serialised state for the next round (secret; the caller encrypts it at rest).
        outbound: messages to route: broadcasts and point-to-point.
        result: on the last round, the secret output as bytes (for the node's keystore).
        public_result: on the last round, JSON-serialisable public output for the coordinator.
    """

    state: bytes
    outbound: list[RoundMessage] = field(default_factory=list)
    result: bytes | None = None
    public_result: dict[str, Any] | None = None

    def __repr__(self) -> str:  # never print state or result: both hold secrets (SECURITY.md H6)
        return f"RoundOutput(outbound={len(self.outbound)} msgs, final={self.result is not None})"


class RoundProtocol(Protocol):
    """One party's side of a multi-round protocol."""

    name: str
    total_rounds: int

    def run_round(
        self,
        round_no: int,
        state: bytes,
        inbound: Sequence[RoundMessage],
        rng: Rng | None = None,
    ) -> RoundOutput:
        """Run round `round_no` (1-based); raise `ProtocolError` naming culprits on a bad message."""
        ...


__all__ = ["RoundOutput", "RoundProtocol"]
