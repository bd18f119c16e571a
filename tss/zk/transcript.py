"""Fiat-Shamir transcripts with an injective encoding (SECURITY.md Z1-Z3).

Encoding: the domain tag ``mpc-signer/v1/<proof>`` first, then per element
``type (1 byte) ‖ len(label) (8 bytes BE) ‖ label ‖ len(value) (8 bytes BE) ‖ value``,
where ints are minimal big-endian magnitudes (type 0x02 non-negative, 0x03 negative), points are
33-byte compressed SEC1 (0x04), raw bytes 0x01. No delimiters, no ``str()``/JSON: two different
element sequences never encode to the same bytes.

Challenges are read from SHAKE256 over the whole encoding plus a per-challenge label; integer
challenges use 128 extra bits before reduction (statistical distance < 2^-128).
"""

from __future__ import annotations

import builtins
import hashlib
import math
from collections.abc import Iterable

from coincurve import PublicKey

__all__ = ["DOMAIN", "Transcript"]

DOMAIN = b"mpc-signer/v1/"
_EXTRA_BITS = 128

T_BYTES, T_INT, T_NEG, T_POINT = 1, 2, 3, 4


def _len(n: int) -> bytes:
    return n.to_bytes(8, "big")


class Transcript:
    """Append-only transcript; every proof type uses its own `tag` (Z3)."""

    def __init__(self, tag: str) -> None:
        t = DOMAIN + tag.encode()
        self._buf = bytearray(_len(len(t)) + t)

    def _put(self, kind: builtins.int, label: str, value: builtins.bytes) -> Transcript:
        lb = label.encode()
        self._buf += bytes([kind]) + _len(len(lb)) + lb + _len(len(value)) + value
        return self

    def bytes(self, label: str, value: builtins.bytes) -> Transcript:
        return self._put(T_BYTES, label, bytes(value))

    def int(self, label: str, value: builtins.int) -> Transcript:
        mag = abs(value)
        raw = mag.to_bytes((mag.bit_length() + 7) // 8, "big")
        return self._put(T_NEG if value < 0 else T_INT, label, raw)

    def ints(self, label: str, values: Iterable[builtins.int]) -> Transcript:
        vals = list(values)
        self.int(label + "#len", len(vals))
        for v in vals:
            self.int(label, v)
        return self

    def point(self, label: str, value: PublicKey) -> Transcript:
        return self._put(T_POINT, label, value.format(compressed=True))

    def encoded(self) -> builtins.bytes:
        return bytes(self._buf)

    def _xof(self, label: str, nbytes: builtins.int, counter: builtins.int = 0) -> builtins.bytes:
        h = hashlib.shake_256(self._buf)
        h.update(b"challenge" + _len(len(label)) + label.encode() + _len(counter))
        return h.digest(nbytes)

    def challenge_int(self, bound: builtins.int, label: str = "e") -> builtins.int:
        """Uniform integer in [0, bound)."""
        nbytes = (bound.bit_length() + _EXTRA_BITS + 7) // 8
        return int.from_bytes(self._xof(label, nbytes), "big") % bound

    def challenge_bits(self, count: builtins.int, label: str = "bits") -> list[builtins.int]:
        raw = self._xof(label, (count + 7) // 8)
        return [(raw[i // 8] >> (i % 8)) & 1 for i in range(count)]

    def challenge_units(self, modulus: builtins.int, count: builtins.int, label: str = "y") -> list[builtins.int]:
        """`count` elements of Z*_modulus (Π^mod's y_i), each from its own counter block."""
        nbytes = (modulus.bit_length() + _EXTRA_BITS + 7) // 8
        out: list[builtins.int] = []
        ctr = 0
        while len(out) < count:
            y = int.from_bytes(self._xof(label, nbytes, ctr), "big") % modulus
            ctr += 1
            if y > 0 and math.gcd(y, modulus) == 1:
                out.append(y)
        return out
