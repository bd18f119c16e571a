"""Taproot rules for FROST(secp256k1, SHA-256-TR): even-y key handling and BIP-341 key tweaks.

BIP-340 keys and nonces are x-only: the point with even y stands for both ±P. The suite follows
ZcashFoundation/frost `frost-secp256k1-tr`:

* Key: if the group key Y has odd y, every signer uses -s_i (and verifiers -X_i, -Y). With a
  BIP-341 tweak t = H_TapTweak(x(Y) || merkle_root), each share gets +t (Lagrange coefficients sum
  to 1, so the group secret gets +t), and if the tweaked key Q = Y + t·G has odd y, everything is
  negated once more. Both steps are captured by one affine map s -> sign·s + offset.
* Group commitment: if R has odd y, every signer negates its nonces (d_i, e_i), and the
  aggregator negates each commitment share when checking signature shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from tss.errors import InvalidInputError
from tss.frost.hashing import tagged_hash
from tss.groups import Element, Group
from tss.groups.secp256k1 import SECP256K1, N


@dataclass(frozen=True, slots=True)
class TaprootTweak:
    """A BIP-341 key-path tweak.

    Attributes:
        merkle_root: 32-byte script-tree root, or None for a key with no script path (BIP-86).
    """

    merkle_root: bytes | None = None

    def __post_init__(self) -> None:
        if self.merkle_root is not None and len(self.merkle_root) != 32:
            raise InvalidInputError("taproot merkle root must be 32 bytes")


def tap_tweak(internal_key_x: bytes, merkle_root: bytes | None) -> int:
    """BIP-341 taproot_tweak_pubkey's t = int(hash_TapTweak(pubkey || h)); fails if t >= n."""
    t = int.from_bytes(tagged_hash("TapTweak", internal_key_x + (merkle_root or b"")), "big")
    if t >= N:
        raise InvalidInputError("taproot tweak out of range")
    return t


def taproot_output_key(internal_key: Element | bytes, merkle_root: bytes | None = None) -> tuple[bytes, int]:
    """BIP-341 taproot_tweak_pubkey: (x-only output key Q, parity of Q's y)."""
    x = SECP256K1.x_bytes(internal_key) if isinstance(internal_key, Element) else bytes(internal_key)
    if len(x) == 33:
        x = x[1:]
    p = SECP256K1.lift_x(x)
    q = SECP256K1.add(p, SECP256K1.base_mul(tap_tweak(x, merkle_root)))
    return SECP256K1.x_bytes(q), 0 if SECP256K1.has_even_y(q) else 1


@dataclass(frozen=True, slots=True)
class KeyTransform:
    """s -> sign·s + offset on secret shares, X -> sign·X + offset·G on public ones."""

    sign: int = 1
    offset: int = 0

    def scalar(self, s: int, order: int) -> int:
        return (self.sign * s + self.offset) % order

    def element(self, group: Group, x: Element) -> Element:
        out = x if self.sign == 1 else group.neg(x)
        if self.offset:
            out = group.add(out, group.base_mul(self.offset))
        return out


IDENTITY_TRANSFORM = KeyTransform()


def key_transform(group_key: Element, taproot: TaprootTweak | None) -> KeyTransform:
    """The even-y (and optional BIP-341 tweak) adjustment of the secp256k1-tr key package."""
    g = SECP256K1
    sign = 1 if g.has_even_y(group_key) else -1
    if taproot is None:
        return KeyTransform(sign, 0)
    even_key = group_key if sign == 1 else g.neg(group_key)
    t = tap_tweak(g.x_bytes(even_key), taproot.merkle_root)
    tweaked = g.add(even_key, g.base_mul(t))
    if g.has_even_y(tweaked):
        return KeyTransform(sign, t)
    return KeyTransform(-sign, (-t) % N)


__all__ = [
    "IDENTITY_TRANSFORM",
    "KeyTransform",
    "TaprootTweak",
    "key_transform",
    "tap_tweak",
    "taproot_output_key",
]
