"""Which `tss` protocol a session name runs, and how a node builds its first state for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activities.ecdsa_node import SealedPresignatureStore, load_presignature, session_preparams
from activities.node_services import NodeServices, Roster, invalid_request
from mpc.keystore import ShareNotFoundError
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol
from tss.ecdsa.keygen import KeygenProtocol
from tss.ecdsa.keyshare import KeyShare as EcdsaKeyShare
from tss.frost import FrostDkg, FrostRefresh, FrostReshare, KeyShare, PublicKeyPackage
from tss.protocol import RoundProtocol

FROST_SUITES = ("ed25519", "secp256k1", "secp256k1-tr")
ECDSA_PROTOCOLS = ("gg20-keygen", "gg18-sign", "gg20-presign", "gg20-sign")
"""Session protocols of threshold ECDSA (GG18 and GG20 keys share one keygen and one share format)."""
ECDSA_MODULUS_BITS = 2048


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
    if name in ECDSA_PROTOCOLS:
        return _setup_ecdsa(name, params, roster, services, ssid)
    invalid_request("unknown_protocol", f"unknown session protocol {name!r}")


def _ecdsa_share(services: NodeServices, key_id: str) -> EcdsaKeyShare:
    try:
        raw = services.shares.get_share(key_id)
    except ShareNotFoundError:
        invalid_request("share_unavailable", f"no share of key {key_id} on {services.node_id}")
    return EcdsaKeyShare.from_bytes(raw)


def _setup_ecdsa(name: str, params: dict[str, Any], roster: Roster, services: NodeServices,
                 ssid: bytes) -> ProtocolSetup:
    """GG18/GG20. Every round rebuilds the adapter with identical arguments (its state binds them):
    keygen pre-parameters are taken once per session and read back sealed; signing reads the
    sealed key share; GG20 online signing reads the sealed presignature copy."""
    pids = sorted(roster.by_pid)
    me = roster.me.party_id
    if name == "gg20-keygen":
        threshold = int(params["threshold"])
        pre = session_preparams(services.state, ssid.hex(), ECDSA_MODULUS_BITS)
        keygen = KeygenProtocol(session_id=ssid, party_id=me, party_ids=pids, threshold=threshold, preparams=pre,
                                modulus_bits=ECDSA_MODULUS_BITS)
        return ProtocolSetup(keygen, keygen.initial_state(), "secp256k1", threshold, 0)
    key_id = str(params["key_id"])
    share = _ecdsa_share(services, key_id)
    digest = bytes.fromhex(str(params.get("digest", "")))
    protocol: Any
    if name == "gg18-sign":
        protocol = GG18SignProtocol(session_id=ssid, key_share=share, signers=pids, digest=digest)
    elif name == "gg20-presign":
        protocol = GG20PresignProtocol(session_id=ssid, key_share=share, signers=pids, key_id=key_id)
    else:
        presig_id = str(params["presig_id"])
        try:
            presignature = load_presignature(services.state, presig_id)
        except ShareNotFoundError:
            invalid_request("presignature_unavailable", f"presignature {presig_id[:16]} is not held by "
                                                        f"{services.node_id}")
        protocol = GG20SignProtocol(key_share=share, presignature=presignature, digest=digest,
                                    store=SealedPresignatureStore(services.state), key_id=key_id)
    return ProtocolSetup(protocol, protocol.initial_state(), "secp256k1", share.threshold, share.epoch)
