"""A signed backup set with escrowed FROST or GG20 shares, made in-process for the recovery tests (no stack)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mpc.backup.escrow import EscrowContext, seal_share
from mpc.backup.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    FileEntry,
    Manifest,
    ManifestSignature,
    list_files,
    sha256_file,
    signed_message,
)
from tss.ecdsa.keyshare import KeyShare as EcdsaKeyShare
from tss.frost import KeyShare, PublicKeyPackage


def key_entry(key_id: str, public: PublicKeyPackage, holders: Mapping[str, int], policy: dict[str, Any],
              protocol: str = "frost") -> dict[str, Any]:
    return {"key_id": key_id, "epoch": public.epoch, "holders": list(holders), "threshold": public.threshold,
            "protocol": protocol, "curve": public.suite, "chain_type": "ed25519", "status": "active",
            "public_key": public.to_dict()["group_public_key"], "address": None, "package": public.to_dict(),
            "party_ids": dict(holders), "policy": policy, "verifying_key": None}


def ecdsa_key_entry(key_id: str, share: EcdsaKeyShare, holders: Mapping[str, int],
                    policy: dict[str, Any]) -> dict[str, Any]:
    """A GG20 key as the manifest lists it (its package is the keygen's public record, as the API keeps it)."""
    package = {**share.public_dict(), "group_public_key": share.group_key_bytes.hex()}
    return {"key_id": key_id, "epoch": share.epoch, "holders": list(holders), "threshold": share.threshold,
            "protocol": "gg20", "curve": "secp256k1", "chain_type": "ethereum", "status": "active",
            "public_key": share.group_key_bytes.hex(), "address": None, "package": package,
            "party_ids": dict(holders), "policy": policy, "verifying_key": None}


def make_escrowed_set(root: Path, *, key_id: str, shares: Mapping[str, KeyShare | EcdsaKeyShare], escrowed: list[str],
                      recipient: str, sign: Callable[[bytes], str], signer_public: str,
                      policy: dict[str, Any] | None = None, protocol: str = "frost") -> Path:
    """`root` (its name is the backup id) with each node in `escrowed` holding its share sealed to `recipient`.
    GG20 shares (`tss.ecdsa` KeyShare) make a gg20 key entry whatever `protocol` says."""
    root.mkdir(parents=True)
    first = next(iter(shares.values()))
    epoch = first.epoch if isinstance(first, EcdsaKeyShare) else first.public.epoch
    holders = {node: s.party_id if isinstance(s, EcdsaKeyShare) else s.identifier for node, s in shares.items()}
    for node in escrowed:
        path = root / "nodes" / node / "escrow" / f"{key_id}.json"
        path.parent.mkdir(parents=True)
        path.write_bytes(seal_share(shares[node].to_bytes(), recipient,
                                    EscrowContext(key_id, epoch, node, holders[node])))
    files = [FileEntry(rel, *sha256_file(root / rel)) for rel in list_files(root)]
    policy = policy or {"approvers": [], "quorum": {}}
    entry = ecdsa_key_entry(key_id, first, holders, policy) if isinstance(first, EcdsaKeyShare) else \
        key_entry(key_id, first.public, holders, policy, protocol)
    raw = Manifest(root.name, "2026-12-10T00:00:00+00:00", "0006", files, [entry], list(holders),
                   {"recipient": recipient, "keys": {key_id: {"escrowed": escrowed}}}).to_bytes()
    (root / MANIFEST_FILE).write_bytes(raw)
    signature = sign(signed_message(root.name, hashlib.sha256(raw).hexdigest()))
    (root / SIGNATURE_FILE).write_bytes(ManifestSignature(signer_public, signature).to_bytes())
    return root
