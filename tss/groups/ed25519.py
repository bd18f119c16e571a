"""edwards25519 on libsodium (PyNaCl bindings), RFC 9591 §6.1 group operations.

Elements are 32-byte RFC 8032 encodings. Deserialisation uses
`crypto_core_ed25519_is_valid_point`, which rejects non-canonical encodings (y >= p), points off
the curve, small-order points (the identity among them) and points outside the prime-order
subgroup, as RFC 9591 DeserializeElement requires (SECURITY.md I3).
"""

from __future__ import annotations

from typing import Literal

from nacl import bindings as sodium

from tss.errors import EncodingError
from tss.groups.base import Element, Group

# RFC 8032 §5.1: p = 2^255 - 19, L = 2^252 + 27742317777372353535851937790883648493.
P = 2**255 - 19
L = int("1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED", 16)
BASE = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")
IDENTITY_ENCODING = bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000")

_IDENTITY = Element(IDENTITY_ENCODING)


class Ed25519Group(Group):
    """edwards25519 prime-order subgroup; scalars 32 bytes little-endian."""

    name = "ed25519"
    order = L
    scalar_len = 32
    element_len = 32
    byteorder: Literal["big", "little"] = "little"
    identity = _IDENTITY
    generator = Element(BASE)

    def add(self, a: Element, b: Element) -> Element:
        if a == _IDENTITY:
            return b
        if b == _IDENTITY:
            return a
        return Element(sodium.crypto_core_ed25519_add(a.data, b.data))

    def sub(self, a: Element, b: Element) -> Element:
        if b == _IDENTITY:
            return a
        return Element(sodium.crypto_core_ed25519_sub(a.data, b.data))

    def neg(self, a: Element) -> Element:
        if a == _IDENTITY:
            return a
        return Element(sodium.crypto_core_ed25519_sub(IDENTITY_ENCODING, a.data))

    def mul(self, a: Element, k: int) -> Element:
        k %= L
        if k == 0 or a == _IDENTITY:
            return _IDENTITY
        return Element(sodium.crypto_scalarmult_ed25519_noclamp(k.to_bytes(32, "little"), a.data))

    def base_mul(self, k: int) -> Element:
        k %= L
        if k == 0:
            return _IDENTITY
        return Element(sodium.crypto_scalarmult_ed25519_base_noclamp(k.to_bytes(32, "little")))

    def _identity_encoding(self) -> bytes:
        return IDENTITY_ENCODING

    def _decode_point(self, data: bytes) -> Element:
        if data == IDENTITY_ENCODING:
            raise EncodingError("ed25519: identity element")
        if int.from_bytes(data, "little") & ((1 << 255) - 1) >= P:
            raise EncodingError("ed25519: non-canonical element encoding (y >= p)")
        if not sodium.crypto_core_ed25519_is_valid_point(data):
            raise EncodingError("ed25519: invalid, small-order or non-prime-order element")
        return Element(data)


ED25519 = Ed25519Group()

__all__ = ["ED25519", "Ed25519Group", "L", "P"]
