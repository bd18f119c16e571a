"""The one message shape every `tss` protocol speaks.

DESIGN.md "The round protocol": each protocol is a state machine of rounds,
``round_k(state_k, inbound) -> (state_{k+1}, outbound)``. A `RoundMessage` is what one round emits
for one recipient (or for everyone). `tss` does not authenticate or encrypt: the participant layer
(mpc.envelope) signs every message and encrypts point-to-point payloads before they leave the node,
and checks them before they reach `tss`. The `sender` seen by `tss` is therefore the authenticated
one; protocols must not trust any sender field inside `payload` (SECURITY.md I2).
"""

from __future__ import annotations

from dataclasses import dataclass

BROADCAST = 0
"""Recipient value meaning "every other party of the session"."""


@dataclass(frozen=True, slots=True)
class RoundMessage:
    """One protocol message.

    Attributes:
        sender: protocol id (1-based) of the party that produced it.
        recipient: protocol id of the single recipient, or `BROADCAST`.
        round: 1-based round number of the protocol that produced it.
        kind: protocol-specific message type, e.g. ``"frost/dkg/commit"``.
        payload: canonical bytes; secret only when point-to-point (then encrypted in transit).
    """

    sender: int
    recipient: int
    round: int
    kind: str
    payload: bytes

    @property
    def is_broadcast(self) -> bool:
        return self.recipient == BROADCAST


__all__ = ["BROADCAST", "RoundMessage"]
