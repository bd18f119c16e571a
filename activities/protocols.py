"""Which `tss` protocol a session name runs, and how a node builds its first state for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activities.node_services import NodeServices, Roster, invalid_request
from tss.frost import FrostDkg, FrostRefresh, FrostReshare, KeyShare, PublicKeyPackage
from tss.protocol import RoundProtocol

FROST_SUITES = ("ed25519", "secp256k1", "secp256k1-tr")


@dataclass
class ProtocolSetup:
    protocol: RoundProtocol
    initial_state: bytes
    curve: str
    threshold: int
    epoch: int


def _suite(params: dict[str, Any]) -> str:
    curve = str(params.get("curve", ""))
    if curve not in FROST_SUITES:
        invalid_request("unsupported_curve", f"FROST has no ciphersuite {curve!r}")
    return curve


def setup_protocol(name: str, params: dict[str, Any], roster: Roster, services: NodeServices,
                   ssid: bytes) -> ProtocolSetup:
    """Build this node's protocol object and round-1 state for session protocol `name`."""
    pids = sorted(roster.by_pid)
    if name == "frost-dkg":
        curve, threshold = _suite(params), int(params["threshold"])
        state = FrostDkg.initial_state(suite=curve, ssid=ssid, identifier=roster.me.party_id, participants=pids,
                                       threshold=threshold)
        return ProtocolSetup(FrostDkg(), state, curve, threshold, 0)
    if name == "frost-refresh":
        key_id, epoch = str(params["key_id"]), int(params["epoch"])
        share = KeyShare.from_bytes(services.shares.get_share(key_id, epoch))
        state = FrostRefresh.initial_state(ssid=ssid, key_share=share)
        return ProtocolSetup(FrostRefresh(), state, share.suite, share.public.threshold, epoch + 1)
    if name == "frost-reshare":
        key_id, epoch = str(params["key_id"]), int(params["epoch"])
        old_public = PublicKeyPackage.from_dict(params["old_public"])
        dealers = [int(d) for d in params["dealers"]]
        dealer_share = (KeyShare.from_bytes(services.shares.get_share(key_id, epoch))
                        if roster.me.party_id in dealers else None)
        state = FrostReshare.initial_state(
            ssid=ssid, identifier=roster.me.party_id, old_public=old_public, dealers=dealers,
            new_participants=[int(p) for p in params["new_participants"]],
            new_threshold=int(params["new_threshold"]), key_share=dealer_share,
        )
        return ProtocolSetup(FrostReshare(), state, old_public.suite, int(params["new_threshold"]), epoch + 1)
    invalid_request("unknown_protocol", f"unknown session protocol {name!r}")
