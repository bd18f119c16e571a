"""Fixed-base modular exponentiation for verifiers (public data only; variable time is fine, H2/H3).

Π^prm verification raises the same base to 128 different ~2048-bit exponents. A table of
base^(d·2^{w·k}) for every w-bit digit d and position k turns each exponentiation into about
bits/w multiplications instead of ~1.2·bits (Brickell-Gordon-McCurley-Wilson style, without the
BGMW digit regrouping). With w = 5 the precomputation (~13k multiplications) pays off after a few
exponentiations.
"""

from __future__ import annotations

from typing import Any

import gmpy2

__all__ = ["FixedBase"]

WINDOW = 5


class FixedBase:
    def __init__(self, base: int, modulus: int, max_bits: int, window: int = WINDOW) -> None:
        if not 1 <= window <= 5:  # digits are read with gmpy2 `digits(2^w)` and int(ch, 36)
            raise ValueError("window must be 1..5")
        self.m = gmpy2.mpz(modulus)
        self.w = window
        self.max_bits = max_bits
        self.rows: list[list[Any]] = []
        b = gmpy2.mpz(base) % self.m
        for _ in range((max_bits + window - 1) // window):
            row = [gmpy2.mpz(1), b]
            for _ in range((1 << window) - 2):
                row.append(row[-1] * b % self.m)
            self.rows.append(row)
            b = row[-1] * b % self.m  # b^(2^w)

    def pow(self, e: int) -> Any:
        """base^e mod m for 0 <= e < 2^max_bits (else falls back to powmod)."""
        if e <= 0 or e.bit_length() > self.max_bits:
            return gmpy2.powmod(self.rows[0][1], e, self.m)
        acc = gmpy2.mpz(1)
        digits = gmpy2.mpz(e).digits(1 << self.w)
        m, rows = self.m, self.rows
        for k, ch in enumerate(reversed(digits)):
            d = int(ch, 36)
            if d:
                acc = acc * rows[k][d] % m
        return acc
