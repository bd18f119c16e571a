"""Threshold ECDSA (GG18/GG20) on a participant.

Keygen takes its pre-parameters once per session and reads them back sealed; signing reads the
sealed key share; GG20 online signing reads the sealed presignature copy. The last presign round
seals the presignature; online signing forgets it.
"""

from __future__ import annotations

from typing import Any

from activities.ecdsa_node import (
    SESSION_PREPARAMS,
    SealedPresignatureStore,
    forget_presignature,
    load_presignature,
    session_preparams,
    store_presignature,
)
from activities.node_services import NodeServices, Roster, invalid_request
from activities.protocols import ProtocolSetup
from mpc.intents import Intent
from mpc.keystore import ShareNotFoundError
from mpc.protocols import ProtocolSpec, SessionProtocol
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol
from tss.ecdsa.keygen import KeygenProtocol
from tss.ecdsa.keyshare import KeyShare as EcdsaKeyShare
from workflows.types import ProtocolParams, ProtocolRoundInput

ECDSA_MODULUS_BITS = 2048


def _share(services: NodeServices, key_id: str) -> EcdsaKeyShare:
    try:
        raw = services.shares.get_share(key_id)
    except ShareNotFoundError:
        invalid_request("share_unavailable", f"no share of key {key_id} on {services.node_id}")
    return EcdsaKeyShare.from_bytes(raw)


class EcdsaAdapter:
    def setup(self, spec: ProtocolSpec, params: ProtocolParams, roster: Roster, services: NodeServices,
              ssid: bytes, intent: Intent) -> ProtocolSetup:
        pids = sorted(roster.by_pid)
        me = roster.me.party_id
        if spec.name == SessionProtocol.GG20_KEYGEN:
            pre = session_preparams(services.state, ssid.hex(), ECDSA_MODULUS_BITS)
            keygen = KeygenProtocol(session_id=ssid, party_id=me, party_ids=pids, threshold=params.threshold,
                                    preparams=pre, modulus_bits=ECDSA_MODULUS_BITS)
            return ProtocolSetup(keygen, keygen.initial_state(), "secp256k1", params.threshold, 0)
        share = _share(services, params.key_id)
        digest = bytes.fromhex(params.digest or "")
        protocol: Any
        if spec.name == SessionProtocol.GG18_SIGN:
            protocol = GG18SignProtocol(session_id=ssid, key_share=share, signers=pids, digest=digest)
        elif spec.name == SessionProtocol.GG20_PRESIGN:
            protocol = GG20PresignProtocol(session_id=ssid, key_share=share, signers=pids, key_id=params.key_id)
        elif spec.name == SessionProtocol.GG20_SIGN:
            presig_id = params.presig_id or ""
            try:
                presignature = load_presignature(services.state, presig_id)
            except ShareNotFoundError:
                invalid_request("presignature_unavailable", f"presignature {presig_id[:16]} is not held by "
                                                            f"{services.node_id}")
            protocol = GG20SignProtocol(key_share=share, presignature=presignature, digest=digest,
                                        store=SealedPresignatureStore(services.state), key_id=params.key_id)
        else:
            invalid_request("unknown_protocol", f"{spec.name} is not a threshold ECDSA protocol")
        return ProtocolSetup(protocol, protocol.initial_state(), "secp256k1", share.threshold, share.epoch)

    def finish(self, spec: ProtocolSpec, request: ProtocolRoundInput, services: NodeServices, setup: ProtocolSetup,
               ssid: bytes, secret: bytes | None, public: dict[str, Any],
               pinned: dict[str, Any] | None) -> dict[str, Any]:
        if spec.name == SessionProtocol.GG20_KEYGEN:
            # tss.ecdsa KeyShare.public_dict(): identical at every party (group key, public shares, ssid).
            package: dict[str, Any] = {"package": {**public, "group_public_key": public["group_key"]}}
            if secret is not None:
                sealed = {**package, "pinned": pinned} if pinned is not None else package
                services.shares.put_share(request.params.key_id, setup.epoch, secret, public=sealed)
            services.state.delete_session(SESSION_PREPARAMS, ssid.hex())  # now inside the sealed key share
            return package
        if spec.name == SessionProtocol.GG20_PRESIGN:
            if secret is not None:
                store_presignature(services.state, str(public["presig_id"]), secret)
            return {"presig_id": public["presig_id"], "R": public["R"], "signers": list(public["signers"])}
        if spec.name == SessionProtocol.GG20_SIGN:
            forget_presignature(services.state, request.params.presig_id or "")
        return {"signature": public["signature"], "r": public["r"], "s": public["s"], "v": public["v"]}
