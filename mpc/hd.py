"""A platform key's BIP-32 children: which keys have them, the extended public key, a child's key and
address per the key's chain (the math is tss/hd.py).

Used by the API (xpub, addresses, path checks before anything starts), by the nodes (each derives the
tweak from its own sealed package and pinned chain code) and by the coordinator's FROST aggregation
(the child package that signature shares are checked against).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpc.chains import present_ecdsa_key, present_frost_key
from tss.hd import DerivationError, Derived, ExtendedPublicKey, HardenedDerivationError, format_path, parse_path

HD_CURVES = ("secp256k1", "secp256k1-tr")
"""Curves whose keys get a chain code at keygen and derive non-hardened children."""


class NoChainCodeError(DerivationError):
    """The key has no chain code (Ed25519, or a key generated before HD keys existed)."""


def canonical_path(path: str | None, curve: str) -> str | None:
    """The path as intents name it, or None for the key itself (`m` or no path).

    Raises `HardenedDerivationError` for a hardened step and `DerivationError` for a malformed path or a
    curve without BIP-32 children (Ed25519: BIP-32 defines no non-hardened Ed25519 derivation).
    """
    if path is None:
        return None
    indices = parse_path(path)
    if not indices:
        return None
    if curve not in HD_CURVES:
        raise DerivationError(f"{curve} keys have no BIP-32 children (BIP-32 defines no non-hardened "
                              "Ed25519 derivation); sign without derivation_path")
    return format_path(indices)


def extended_key(group_public_key_hex: str, chain_code_hex: str | None) -> ExtendedPublicKey:
    """The key as a BIP-32 root (depth 0): its compressed group key and chain code."""
    if not chain_code_hex:
        raise NoChainCodeError("this key has no BIP-32 chain code (Ed25519, or generated before HD keys)")
    try:
        chain_code = bytes.fromhex(chain_code_hex)
        point = bytes.fromhex(group_public_key_hex)
    except ValueError:
        raise DerivationError("the key's public data is not hex") from None
    return ExtendedPublicKey(point, chain_code)


def derive(group_public_key_hex: str, chain_code_hex: str | None, path: str) -> Derived:
    return extended_key(group_public_key_hex, chain_code_hex).derive(path)


def present_child(family: str, curve: str, chain_type: str, child_public_key: bytes) -> dict[str, str]:
    """`public_key`, `verifying_key` and `address` of a child, as the key itself is presented
    (Taproot: the child is the internal key, its output key the BIP-86 tweak of it)."""
    if family == "ecdsa":
        return present_ecdsa_key(chain_type, child_public_key.hex())
    return present_frost_key(curve, chain_type, child_public_key.hex())


def key_chain_code(public_data: Mapping[str, Any] | None) -> str | None:
    value = (public_data or {}).get("chain_code")
    return str(value) if value else None


__all__ = [
    "HD_CURVES",
    "DerivationError",
    "HardenedDerivationError",
    "NoChainCodeError",
    "canonical_path",
    "derive",
    "extended_key",
    "key_chain_code",
    "present_child",
]
