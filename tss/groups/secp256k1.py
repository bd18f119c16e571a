"""secp256k1 on libsecp256k1 (coincurve), RFC 9591 §6.5 group operations.

libsecp256k1 has no representation of the point at infinity, so the identity is modelled here
explicitly (`Element(b"\\x00")`, the SEC1 encoding of infinity) and sums that cancel (P + (-P))
are detected before they reach the library.
"""

from __future__ import annotations

from typing import Literal

from coincurve import PublicKey

from tss.errors import EncodingError
from tss.groups.base import Element, Group

# SEC 2 v2 §2.4.1 (secp256k1 domain parameters).
P = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F", 16)
N = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
GX = bytes.fromhex("0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798")

_IDENTITY = Element(b"\x00")


class Secp256k1Group(Group):
    """secp256k1: elements are 33-byte SEC1 compressed points; scalars 32 bytes big-endian."""

    name = "secp256k1"
    order = N
    scalar_len = 32
    element_len = 33
    byteorder: Literal["big", "little"] = "big"
    identity = _IDENTITY
    generator = Element(GX)

    def add(self, a: Element, b: Element) -> Element:
        if a.data == b"\x00":
            return b
        if b.data == b"\x00":
            return a
        if a.data[1:] == b.data[1:] and a.data[0] != b.data[0]:
            return _IDENTITY  # P + (-P)
        combined = PublicKey.combine_keys([PublicKey(a.data), PublicKey(b.data)])
        return Element(combined.format(compressed=True))

    def neg(self, a: Element) -> Element:
        if a.data == b"\x00":
            return a
        return Element(bytes([a.data[0] ^ 1]) + a.data[1:])

    def mul(self, a: Element, k: int) -> Element:
        k %= N
        if k == 0 or a.data == b"\x00":
            return _IDENTITY
        return Element(PublicKey(a.data).multiply(k.to_bytes(32, "big")).format(compressed=True))

    def base_mul(self, k: int) -> Element:
        k %= N
        if k == 0:
            return _IDENTITY
        return Element(PublicKey.from_valid_secret(k.to_bytes(32, "big")).format(compressed=True))

    def _identity_encoding(self) -> bytes:
        return bytes(33)

    def _decode_point(self, data: bytes) -> Element:
        # SEC1 §2.3.4 with RFC 9591 §6.5 DeserializeElement: compressed form only, x < p, on curve.
        if data[0] not in (2, 3):
            raise EncodingError("secp256k1: element is not a compressed point")
        if int.from_bytes(data[1:], "big") >= P:
            raise EncodingError("secp256k1: x coordinate not below p")
        try:
            point = PublicKey(data)
        except Exception as exc:  # coincurve raises ValueError for points off the curve
            raise EncodingError("secp256k1: not a point on the curve") from exc
        if point.format(compressed=True) != data:
            raise EncodingError("secp256k1: non-canonical element encoding")
        return Element(data)

    # ---- helpers for BIP-340 (x-only keys) ------------------------------------------------
    @staticmethod
    def has_even_y(a: Element) -> bool:
        return a.data[0] == 2

    @staticmethod
    def x_bytes(a: Element) -> bytes:
        return a.data[1:]

    def lift_x(self, x: bytes) -> Element:
        """BIP-340 lift_x: the point with x coordinate `x` and even y (fails if none)."""
        if len(x) != 32:
            raise EncodingError("secp256k1: x-only key must be 32 bytes")
        return self.deserialize_element(b"\x02" + x)


SECP256K1 = Secp256k1Group()

__all__ = ["SECP256K1", "N", "P", "Secp256k1Group"]
