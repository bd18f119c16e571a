"""Threshold ECDSA (GG18/GG20) on a participant.

Keygen takes its pre-parameters once per session and reads them back sealed; signing reads the
sealed key share; GG20 online signing reads the sealed presignature copy. The last presign round
seals the presignature; online signing forgets it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from activities.derivation import child_tweak
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
from activities.recover_staging import load_staged, spend_staged
from mpc.intents import Intent
from mpc.keystore import KeystoreError, ShareNotFoundError
from mpc.protocols import ProtocolSpec, SessionProtocol, Stage
from mpc.reshare_digests import test_message
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol, presign_from_bytes
from tss.ecdsa.keygen import KeygenProtocol
from tss.ecdsa.keyshare import KeyShare as EcdsaKeyShare
from tss.ecdsa.reshare import ReshareProtocol
from tss.ecdsa.staging import StagedShare, StagingPackage
from workflows.types import ProtocolParams, ProtocolRoundInput

ECDSA_MODULUS_BITS = 2048


def reshare_test_epoch(services: NodeServices, params: ProtocolParams) -> int | None:
    """The inactive new epoch whose test signature this signing session is, or None (ordinary signing).

    A reshare's new shares sign once before the commit point, over the tagged test digest of their
    own epoch and ack digest (mpc/reshare_digests.py) and nothing else: no intent is needed for that.
    """
    key_id, epoch = params.key_id, params.epoch
    try:
        active = services.shares.active_epoch(key_id)
        if params.digest is None or (active is not None and epoch <= active) or not services.shares.has_share(
                key_id, epoch):
            return None
        ack_digest = services.shares.get_meta(key_id, epoch).public.get("ack_digest")
    except (KeystoreError, ValueError):
        return None  # no such share here: ordinary signing then refuses it with its own reason
    if not isinstance(ack_digest, str):
        return None
    try:
        expected = test_message(key_id, epoch, ack_digest).hex()
    except ValueError:
        return None
    return epoch if params.digest == expected else None


def _share(services: NodeServices, key_id: str, epoch: int | None = None) -> EcdsaKeyShare:
    """The active share, or the share of `epoch` (a reshare's inactive new epoch, for its test signature)."""
    try:
        raw = services.shares.get_share(key_id, epoch)
    except ShareNotFoundError:
        invalid_request("share_unavailable", f"no share of key {key_id} on {services.node_id}")
    return EcdsaKeyShare.from_bytes(raw)


def reshare_package(public: dict[str, Any]) -> dict[str, Any]:
    """The new epoch's public record, the same at every party (and in the key's public data)."""
    agreed = {k: v for k, v in public.items() if k != "retire_old_share"}  # differs between old and new holders
    return {**agreed, "group_public_key": agreed["group_key"]}


def reshare_ack_digest(package: dict[str, Any]) -> str:
    """H(ssid || new public shares || Y), as every new holder ACKs it: the canonical package holds all three."""
    canonical = json.dumps(package, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(b"mpc-signer/gg20-reshare-ack/v1\x00" + canonical).hexdigest()


class EcdsaAdapter:
    def setup(self, spec: ProtocolSpec, params: ProtocolParams, roster: Roster, services: NodeServices,
              ssid: bytes, intent: Intent | None) -> ProtocolSetup:
        pids = sorted(roster.by_pid)
        me = roster.me.party_id
        if spec.stage in (Stage.REFRESH, Stage.RESHARE):
            return self._reshare_setup(params, roster, services, ssid, intent)
        if spec.stage == Stage.RECOVER:
            return self._recover_setup(params, roster, services, ssid)
        if spec.name == SessionProtocol.GG20_KEYGEN:
            pre = session_preparams(services.state, ssid.hex(), ECDSA_MODULUS_BITS)
            keygen = KeygenProtocol(session_id=ssid, party_id=me, party_ids=pids, threshold=params.threshold,
                                    preparams=pre, modulus_bits=ECDSA_MODULUS_BITS)
            return ProtocolSetup(keygen, keygen.initial_state(), "secp256k1", params.threshold, 0)
        test_epoch = reshare_test_epoch(services, params)
        share = _share(services, params.key_id, test_epoch)
        if params.derivation_path is not None:
            if test_epoch is not None:
                invalid_request("invalid_derivation_path", "a reshare's test signature is made with the key itself")
            # A BIP-32 child: this node's own group key and pinned chain code give the tweak (tss/hd.py).
            share = share.with_tweak(child_tweak(services, params.key_id, params.derivation_path, "secp256k1",
                                                 share.group_key_bytes))
        digest = bytes.fromhex(params.digest or "")
        protocol: Any
        background: Callable[[], Any] | None = None
        if spec.name == SessionProtocol.GG18_SIGN:
            protocol = GG18SignProtocol(session_id=ssid, key_share=share, signers=pids, digest=digest)
        elif spec.name == SessionProtocol.GG20_PRESIGN:
            protocol = GG20PresignProtocol(session_id=ssid, key_share=share, signers=pids, key_id=params.key_id)
            if intent is None and params.digest is None:  # a pool refill: no request waits on its rounds
                background = partial(presign_from_bytes, ssid, share.to_bytes(), pids, params.key_id)
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
        return ProtocolSetup(protocol, protocol.initial_state(), "secp256k1", share.threshold, share.epoch,
                             background)

    @staticmethod
    def _reshare_setup(params: ProtocolParams, roster: Roster, services: NodeServices, ssid: bytes,
                       intent: Intent | None) -> ProtocolSetup:
        """A dealer deals from its own share (old record from it); a new member takes fresh
        pre-parameters from its pool and the old record from the intent, which every dealer
        compared with its own (activities/reshare_authorisation.py)."""
        reshare = params.reshare
        if reshare is None:
            invalid_request("invalid_parameters", "a reshare session names its dealers and new committee")
        me = roster.me.party_id
        share = None
        if me in reshare.dealers:
            if services.shares.active_epoch(params.key_id) != params.epoch:
                invalid_request("share_unavailable", f"{services.node_id} holds no active share of {params.key_id} "
                                                     f"at epoch {params.epoch}")
            share = _share(services, params.key_id, params.epoch)
        if share is not None:
            old_public = share.public_dict()
        elif intent is not None:
            old_public = dict(intent.details["old_package"])
        else:
            invalid_request("unauthorized", "a new holder takes the old key record from the reshare intent")
        pre = session_preparams(services.state, ssid.hex(), ECDSA_MODULUS_BITS) \
            if me in reshare.new_participants else None
        protocol = ReshareProtocol(session_id=ssid, party_id=me, old_public=old_public,
                                   old_signers=list(reshare.dealers), new_party_ids=list(reshare.new_participants),
                                   new_threshold=reshare.new_threshold, key_share=share, preparams=pre,
                                   modulus_bits=ECDSA_MODULUS_BITS)
        return ProtocolSetup(protocol, protocol.initial_state(), "secp256k1", reshare.new_threshold, params.epoch + 1)

    @staticmethod
    def _recover_setup(params: ProtocolParams, roster: Roster, services: NodeServices,
                       ssid: bytes) -> ProtocolSetup:
        """A recovery from escrow: the staged sharing stands in for the key's epoch; a dealer deals from its
        staged share, every new holder takes fresh pre-parameters from its pool (authorised before: the staged
        record is the one imported under this session's intent, activities/recover_staging.py)."""
        reshare = params.reshare
        staged = load_staged(services.state, params.key_id, params.epoch + 1)
        if reshare is None or staged is None:
            invalid_request("share_unavailable", f"{services.node_id} holds no staged share of {params.key_id}")
        me = roster.me.party_id
        package = StagingPackage.from_dict(staged.package)
        share = None
        if me in reshare.dealers:
            if not staged.share:
                invalid_request("share_unavailable", f"the staged share of {params.key_id} was used already")
            share = StagedShare.from_bytes(staged.share)
        pre = session_preparams(services.state, ssid.hex(), ECDSA_MODULUS_BITS) \
            if me in reshare.new_participants else None
        protocol = ReshareProtocol(session_id=ssid, party_id=me, old_public=package.reshare_source(params.epoch),
                                   old_signers=list(reshare.dealers), new_party_ids=list(reshare.new_participants),
                                   new_threshold=reshare.new_threshold, key_share=share, preparams=pre,
                                   modulus_bits=ECDSA_MODULUS_BITS)
        return ProtocolSetup(protocol, protocol.initial_state(), "secp256k1", reshare.new_threshold, params.epoch + 1)

    def finish(self, spec: ProtocolSpec, request: ProtocolRoundInput, services: NodeServices, setup: ProtocolSetup,
               ssid: bytes, secret: bytes | None, public: dict[str, Any],
               pinned: dict[str, Any] | None) -> dict[str, Any]:
        if spec.stage in (Stage.REFRESH, Stage.RESHARE, Stage.RECOVER):
            new_package = reshare_package(public)
            agreed = {"package": new_package, "ack_digest": reshare_ack_digest(new_package)}
            if secret is not None:
                key_id = request.params.key_id
                shares = services.shares
                if shares.active_epoch(key_id) != setup.epoch and shares.has_share(key_id, setup.epoch):
                    shares.delete_epoch(key_id, setup.epoch)  # an earlier attempt's share, never activated
                shares.put_share(key_id, setup.epoch, secret, public={**agreed, "pinned": pinned, "ssid": ssid.hex()},
                                 activate=False)
            services.state.delete_session(SESSION_PREPARAMS, ssid.hex())  # now inside the sealed key share
            if spec.stage == Stage.RECOVER:
                spend_staged(services.state, request.params.key_id, setup.epoch)  # the key share replaces it
            return agreed
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
            # Public: R, each signer's R̄_j and S_j (what combines the online shares and names a bad one).
            return {"presig_id": public["presig_id"], "R": public["R"], "Rbar": public["Rbar"], "S": public["S"],
                    "signers": list(public["signers"]), "epoch": setup.epoch}
        if spec.name == SessionProtocol.GG20_SIGN:
            forget_presignature(services.state, request.params.presig_id or "")
        return {"signature": public["signature"], "r": public["r"], "s": public["s"], "v": public["v"]}
