"""FROST on a participant: DKG, refresh and reshare set-up, and sealing the new share."""

from __future__ import annotations

from typing import Any

from activities.node_services import NodeServices, Roster, invalid_request
from activities.protocols import ProtocolSetup
from mpc.protocols import ProtocolSpec, SessionProtocol
from tss.frost import FrostDkg, FrostRefresh, FrostReshare, KeyShare, PublicKeyPackage
from workflows.types import ProtocolParams, ProtocolRoundInput

FROST_SUITES = ("ed25519", "secp256k1", "secp256k1-tr")


def _suite(params: ProtocolParams) -> str:
    if params.curve not in FROST_SUITES:
        invalid_request("unsupported_curve", f"FROST has no ciphersuite {params.curve!r}")
    return params.curve


class FrostAdapter:
    def setup(self, spec: ProtocolSpec, params: ProtocolParams, roster: Roster, services: NodeServices,
              ssid: bytes) -> ProtocolSetup:
        pids = sorted(roster.by_pid)
        if spec.name == SessionProtocol.FROST_DKG:
            curve, threshold = _suite(params), params.threshold
            state = FrostDkg.initial_state(suite=curve, ssid=ssid, identifier=roster.me.party_id, participants=pids,
                                           threshold=threshold)
            return ProtocolSetup(FrostDkg(), state, curve, threshold, 0)
        # Refresh and reshare start from this node's own share: epoch, threshold and the old group
        # key come from what it holds, never from the request (SECURITY.md A4).
        epoch = services.shares.active_epoch(params.key_id)
        if epoch is None or epoch != params.epoch:
            invalid_request("share_unavailable", f"{services.node_id} holds no share of {params.key_id} "
                                                 f"at epoch {params.epoch}")
        if spec.name == SessionProtocol.FROST_REFRESH:
            share = KeyShare.from_bytes(services.shares.get_share(params.key_id, epoch))
            state = FrostRefresh.initial_state(ssid=ssid, key_share=share)
            return ProtocolSetup(FrostRefresh(), state, share.suite, share.public.threshold, epoch + 1)
        reshare = params.reshare
        if reshare is None or roster.me.party_id not in reshare.dealers:
            # A new holder would need the old group key from the reshare intent (the reshare workflow).
            invalid_request("invalid_parameters", "this node can only reshare as a dealer holding its share")
        share = KeyShare.from_bytes(services.shares.get_share(params.key_id, epoch))
        old_public: PublicKeyPackage = share.public
        state = FrostReshare.initial_state(
            ssid=ssid, identifier=roster.me.party_id, old_public=old_public, dealers=list(reshare.dealers),
            new_participants=list(reshare.new_participants), new_threshold=reshare.new_threshold, key_share=share,
        )
        return ProtocolSetup(FrostReshare(), state, old_public.suite, reshare.new_threshold, epoch + 1)

    def finish(self, spec: ProtocolSpec, request: ProtocolRoundInput, services: NodeServices, setup: ProtocolSetup,
               ssid: bytes, secret: bytes | None, public: dict[str, Any],
               pinned: dict[str, Any] | None) -> dict[str, Any]:
        agreed = {"package": public["public_key_package"], "ack_digest": public.get("ack_digest")}
        if secret is not None:
            sealed = {**agreed, "pinned": pinned} if pinned is not None else agreed
            services.shares.put_share(request.params.key_id, setup.epoch, secret, public=sealed)
        return agreed
