"""FROST on a participant: DKG, refresh and reshare set-up, and sealing the new share.

Refresh and reshare store the new share *inactive* (epoch + 1 beside the old one): it becomes the
signing epoch only after every new holder ACKed it and a test signature verified
(activities/reshare_node.py, SECURITY.md R3).
"""

from __future__ import annotations

from typing import Any

from activities.node_services import NodeServices, Roster, invalid_request
from activities.protocols import ProtocolSetup
from mpc.intents import Intent
from mpc.protocols import ProtocolSpec, SessionProtocol, Stage
from tss.frost import FrostDkg, FrostRefresh, FrostReshare, KeyShare, PublicKeyPackage
from workflows.types import ProtocolParams, ProtocolRoundInput

FROST_SUITES = ("ed25519", "secp256k1", "secp256k1-tr")


def _suite(params: ProtocolParams) -> str:
    if params.curve not in FROST_SUITES:
        invalid_request("unsupported_curve", f"FROST has no ciphersuite {params.curve!r}")
    return params.curve


def _held_share(services: NodeServices, key_id: str, epoch: int) -> KeyShare:
    """This node's share of `epoch`, which must be its active one (an old holder of the key)."""
    if services.shares.active_epoch(key_id) != epoch:
        invalid_request("share_unavailable", f"{services.node_id} holds no active share of {key_id} at epoch {epoch}")
    return KeyShare.from_bytes(services.shares.get_share(key_id, epoch))


class FrostAdapter:
    def setup(self, spec: ProtocolSpec, params: ProtocolParams, roster: Roster, services: NodeServices,
              ssid: bytes, intent: Intent | None) -> ProtocolSetup:
        pids = sorted(roster.by_pid)
        if spec.name == SessionProtocol.FROST_DKG:
            curve, threshold = _suite(params), params.threshold
            state = FrostDkg.initial_state(suite=curve, ssid=ssid, identifier=roster.me.party_id, participants=pids,
                                           threshold=threshold)
            return ProtocolSetup(FrostDkg(), state, curve, threshold, 0)
        # Refresh and reshare start from this node's own share: epoch, threshold and the old group
        # key come from what it holds, never from the request (SECURITY.md A4). A new holder of a
        # reshare has no share: it takes the old public package from the intent, which every
        # dealer compared with its own share before dealing.
        epoch = params.epoch
        if spec.name == SessionProtocol.FROST_REFRESH:
            share = _held_share(services, params.key_id, epoch)
            state = FrostRefresh.initial_state(ssid=ssid, key_share=share)
            return ProtocolSetup(FrostRefresh(), state, share.suite, share.public.threshold, epoch + 1)
        reshare = params.reshare
        if reshare is None:
            invalid_request("invalid_parameters", "a reshare session names its dealers and new committee")
        dealer = roster.me.party_id in reshare.dealers
        key_share = _held_share(services, params.key_id, epoch) if dealer else None
        if key_share is not None:
            old_public = key_share.public
        elif intent is not None:
            old_public = PublicKeyPackage.from_dict(intent.details["old_package"])
        else:
            invalid_request("unauthorized", "a new holder takes the old public package from the reshare intent")
        state = FrostReshare.initial_state(
            ssid=ssid, identifier=roster.me.party_id, old_public=old_public, dealers=list(reshare.dealers),
            new_participants=list(reshare.new_participants), new_threshold=reshare.new_threshold,
            key_share=key_share,
        )
        return ProtocolSetup(FrostReshare(), state, old_public.suite, reshare.new_threshold, epoch + 1)

    def finish(self, spec: ProtocolSpec, request: ProtocolRoundInput, services: NodeServices, setup: ProtocolSetup,
               ssid: bytes, secret: bytes | None, public: dict[str, Any],
               pinned: dict[str, Any] | None) -> dict[str, Any]:
        agreed = {"package": public["public_key_package"], "ack_digest": public.get("ack_digest")}
        if secret is None:
            return agreed  # a dealer that leaves the committee: nothing to store
        sealed = {**agreed, "pinned": pinned} if pinned is not None else agreed
        key_id = request.params.key_id
        if spec.stage == Stage.KEYGEN:
            services.shares.put_share(key_id, setup.epoch, secret, public=sealed)
            return agreed
        # A failed earlier attempt may have left an inactive share of this epoch: it was never
        # used (never activated), so the new session's share replaces it.
        if services.shares.active_epoch(key_id) != setup.epoch and services.shares.has_share(key_id, setup.epoch):
            services.shares.delete_epoch(key_id, setup.epoch)
        services.shares.put_share(key_id, setup.epoch, secret, public={**sealed, "ssid": ssid.hex()}, activate=False)
        return agreed
