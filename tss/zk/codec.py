"""Wire helpers for proofs: integers as hex strings with length caps checked before parsing (H7).

Proofs travel inside JSON payloads of `RoundMessage`s as dicts of hex strings. `dec_int` refuses
anything but a bounded-length hex string, so a peer cannot make us parse or exponentiate huge
numbers. Decoding errors raise `EncodingError`; protocol code converts them into `ProtocolError`
naming the sender.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tss.errors import EncodingError

__all__ = ["dec_bits", "dec_int", "dec_int_list", "enc_int"]

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
