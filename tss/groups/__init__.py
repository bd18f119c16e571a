"""Prime-order groups for threshold protocols: secp256k1 (coincurve) and edwards25519 (libsodium)."""

from tss.groups.base import Element, Group
from tss.groups.ed25519 import ED25519, Ed25519Group
from tss.groups.secp256k1 import SECP256K1, Secp256k1Group

_GROUPS: dict[str, Group] = {"secp256k1": SECP256K1, "ed25519": ED25519}


def get_group(name: str) -> Group:
    """The group registered under `name` (``"secp256k1"`` or ``"ed25519"``)."""
    try:
        return _GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown group {name!r}") from None


__all__ = ["ED25519", "SECP256K1", "Ed25519Group", "Element", "Group", "Secp256k1Group", "get_group"]
