"""How a participant runs a session protocol: the registry's spec (mpc/protocols.py) plus one adapter
per family that builds the node's first state (`setup`) and seals or returns the result (`finish`).

Adding a protocol means a spec in mpc/protocols.py and a branch in its family's adapter; the round
activities (activities/participant_rounds.py) are the same for every protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from activities.node_services import NodeServices, Roster, invalid_request
from mpc.intents import Intent
from mpc.protocols import Family, ProtocolSpec, spec_of
from tss.protocol import RoundProtocol
from workflows.types import ProtocolParams, ProtocolRoundInput


@dataclass
class ProtocolSetup:
    protocol: RoundProtocol
    initial_state: bytes
    curve: str
    threshold: int
    epoch: int
    background: Callable[[], RoundProtocol] | None = None
    """Set for work no request waits on (a pool refill's presigning): a picklable recipe that rebuilds
    `protocol` in another process, where the node may run its rounds at low priority."""


class FamilyAdapter(Protocol):
    def setup(self, spec: ProtocolSpec, params: ProtocolParams, roster: Roster, services: NodeServices,
              ssid: bytes, intent: Intent | None) -> ProtocolSetup:
        """This node's protocol object and round-1 state. Every round rebuilds it with identical
        arguments (its state binds them). `intent` is the checked intent of the session: a new
        holder of a reshare takes the old public key package from it."""
        ...

    def finish(self, spec: ProtocolSpec, request: ProtocolRoundInput, services: NodeServices, setup: ProtocolSetup,
               ssid: bytes, secret: bytes | None, public: dict[str, Any],
               pinned: dict[str, Any] | None) -> dict[str, Any]:
        """After the last round: seal what is secret (a share, a presignature) and return the public
        result every party must agree on. `pinned` (keygen, refresh, reshare) is sealed with a new share;
        a refresh or reshare stores it inactive until the commit (activities/reshare_node.py)."""
        ...


def require_spec(name: str) -> ProtocolSpec:
    spec = spec_of(name)
    if spec is None:
        invalid_request("unknown_protocol", f"unknown session protocol {name!r}")
    return spec


def adapter_for(spec: ProtocolSpec) -> FamilyAdapter:
    from activities.ecdsa_protocols import EcdsaAdapter
    from activities.frost_protocols import FrostAdapter

    adapters: dict[Family, FamilyAdapter] = {Family.FROST: FrostAdapter(), Family.ECDSA: EcdsaAdapter()}
    return adapters[spec.family]
