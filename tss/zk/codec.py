"""Wire helpers for proofs: integers as hex strings with length caps checked before parsing (H7).

Proofs travel inside JSON payloads of `RoundMessage`s as dicts of hex strings. `dec_int` refuses
anything but a bounded-length hex string, so a peer cannot make us parse or exponentiate huge
numbers. Decoding errors raise `EncodingError`; protocol code converts them into `ProtocolError`
naming the sender.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

from tss.errors import EncodingError

__all__ = ["dec_bits", "dec_fixed_list", "dec_int", "dec_int_list", "enc_fixed_list", "enc_int", "enc_list"]

_HEX = re.compile(r"-?[0-9a-f]+")


def enc_int(v: int) -> str:
    return ("-" if v < 0 else "") + format(abs(v), "x")


def dec_int(obj: Any, max_bits: int, *, signed: bool = False) -> int:
    """Parse a hex string of at most `max_bits` bits (sign allowed only if `signed`)."""
    if not isinstance(obj, str) or len(obj) > max_bits // 4 + 2 or not _HEX.fullmatch(obj):
        raise EncodingError("malformed integer")
    if obj.startswith("-") and not signed:
        raise EncodingError("negative integer not allowed")
    v = int(obj, 16)
    if abs(v).bit_length() > max_bits:
        raise EncodingError("integer too large")
    return v


def dec_int_list(obj: Any, count: int, max_bits: int, *, signed: bool = False) -> list[int]:
    """A list of exactly `count` integers (exact length: Z4, C3)."""
    if not isinstance(obj, list) or len(obj) != count:
        raise EncodingError("list of the wrong length")
    return [dec_int(x, max_bits, signed=signed) for x in obj]


def dec_bits(obj: Any, count: int) -> list[int]:
    if not isinstance(obj, list) or len(obj) != count or any(b not in (0, 1) or b is True or b is False for b in obj):
        raise EncodingError("bit list malformed")
    return list(obj)


def enc_list(values: Sequence[int]) -> list[str]:
    return [enc_int(v) for v in values]


def enc_fixed_list(values: Sequence[int], nbytes: int) -> str:
    """A list of non-negative ints as one base64 string of fixed-width big-endian words.

    Used for the long vectors of Π^mod and Π^prm (128 × 256 bytes each at 2048 bits): a third
    smaller than hex strings, which matters for workflow payload sizes.
    """
    return base64.b64encode(b"".join(v.to_bytes(nbytes, "big") for v in values)).decode()


def dec_fixed_list(obj: Any, count: int, nbytes: int) -> list[int]:
    """Inverse of `enc_fixed_list`; exact length checked before decoding (H7, Z4)."""
    expected = 4 * ((count * nbytes + 2) // 3)
    if not isinstance(obj, str) or len(obj) != expected:
        raise EncodingError("vector of the wrong length")
    try:
        raw = base64.b64decode(obj, validate=True)
    except ValueError as exc:
        raise EncodingError("malformed vector") from exc
    if len(raw) != count * nbytes:
        raise EncodingError("vector of the wrong length")
    return [int.from_bytes(raw[i * nbytes : (i + 1) * nbytes], "big") for i in range(count)]
