"""secp256k1 scalars and points for GG18/GG20 (SEC 2 §2.4.1), on libsecp256k1 via coincurve.

Secret scalar multiplication goes only through coincurve (SECURITY.md H3). Scalar arithmetic mod q
uses Python ints (best effort; Python has no constant-time integers). The identity is represented
by ``None`` (coincurve cannot hold it): any function returning a point may return ``None`` and every
decoder rejects it.
"""

from __future__ import annotations

from collections.abc import Iterable

from coincurve import PublicKey

from tss.errors import EncodingError, InvalidInputError
from tss.rng import Rng

__all__ = [
    "G",
    "Point",
    "Q",
    "add",
    "base_mul",
    "decode_point",
    "encode_point",
    "mul",
    "neg",
    "point_eq",
    "random_scalar",
]

Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Group order n of secp256k1 (SEC 2 v2 §2.4.1)."""

Point = PublicKey
G: Point = PublicKey.from_secret((1).to_bytes(32, "big"))


def _scalar_bytes(k: int) -> bytes | None:
    k %= Q
    return None if k == 0 else k.to_bytes(32, "big")


def base_mul(k: int) -> Point | None:
    """k·G (libsecp256k1 constant-time ecmult_gen)."""
    kb = _scalar_bytes(k)
    return None if kb is None else PublicKey.from_secret(kb)


def mul(p: Point | None, k: int) -> Point | None:
    """k·P (libsecp256k1 constant-time ecmult_const)."""
    kb = _scalar_bytes(k)
    if p is None or kb is None:
        return None
    return p.multiply(kb)


def add(*points: Point | Iterable[Point | None] | None) -> Point | None:
    """Sum of points; ``None`` (identity) entries are skipped; an identity sum returns ``None``."""
    flat: list[Point] = []
    for item in points:
        if item is None:
            continue
        if isinstance(item, PublicKey):
            flat.append(item)
        else:
            flat.extend(p for p in item if p is not None)
    if not flat:
        return None
    if len(flat) == 1:
        return flat[0]
    try:
        return PublicKey.combine_keys(flat)
    except ValueError:
        return None


def neg(p: Point | None) -> Point | None:
    """-P: flip the parity byte of the compressed encoding."""
    if p is None:
        return None
    raw = bytearray(p.format())
    raw[0] ^= 1
    return PublicKey(bytes(raw))


def point_eq(a: Point | None, b: Point | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.format() == b.format()


def encode_point(p: Point | None) -> bytes:
    """Compressed SEC1 (33 bytes); the identity has no encoding."""
    if p is None:
        raise InvalidInputError("the identity has no SEC1 encoding")
    return p.format(compressed=True)


def decode_point(data: bytes) -> Point:
    """Parse a compressed point (SECURITY.md I3): 33 bytes, prefix 02/03, on the curve."""
    if len(data) != 33 or data[0] not in (2, 3):
        raise EncodingError("point must be 33-byte compressed SEC1")
    try:
        return PublicKey(data)
    except ValueError as exc:
        raise EncodingError("point not on secp256k1") from exc


def random_scalar(rng: Rng) -> int:
    """Uniform non-zero scalar (SECURITY.md N6)."""
    return 1 + rng.randbelow(Q - 1)
