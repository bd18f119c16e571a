"""Prime generation for Paillier (Blum primes) and ring-Pedersen (safe primes).

Safe primes are found with a sieve over an interval (as OpenSSL's and tss-lib's generators do):
a random odd starting point q0, and a bitmap over candidates q = q0 + 2j marking j when q or
p = 2q + 1 has a factor below `SIEVE_LIMIT`. Only survivors get a Fermat test on q, then a base-2
test on p, and finally Miller-Rabin on both. This avoids almost all big-number work on the ~1/ln²
density of safe primes.
"""

from __future__ import annotations

import gmpy2

from tss.errors import InvalidInputError
from tss.rng import Rng, resolve_rng

__all__ = ["MR_ROUNDS", "blum_prime", "is_safe_prime", "safe_prime", "small_primes"]

SIEVE_LIMIT = 1 << 16
"""Trial-sieve bound: primes below 2^16 remove ~95% of candidate pairs for (q, 2q+1)."""

SIEVE_WINDOW = 1 << 14
"""Candidates examined per random starting point before re-drawing."""

MR_ROUNDS = 40
"""Miller-Rabin rounds for final acceptance (error < 2^-80 for random candidates, FIPS 186-5 C.3)."""


def small_primes(limit: int = SIEVE_LIMIT) -> list[int]:
    """Odd primes below `limit` (Eratosthenes)."""
    flags = bytearray([1]) * limit
    flags[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = bytearray(len(range(i * i, limit, i)))
    return [i for i in range(3, limit) if flags[i]]


_SMALL = small_primes()


def _random_odd(bits: int, rng: Rng) -> int:
    raw = int.from_bytes(rng.token_bytes((bits + 7) // 8), "big")
    raw &= (1 << bits) - 1
    return raw | (1 << (bits - 1)) | (1 << (bits - 2)) | 1  # top two bits set: products have full length


def blum_prime(bits: int, rng: Rng | None = None) -> int:
    """A random prime p ≡ 3 (mod 4) of exactly `bits` bits with the top two bits set."""
    if bits < 16:
        raise InvalidInputError("prime size too small")
    rng = resolve_rng(rng)
    while True:
        p = gmpy2.mpz(_random_odd(bits, rng) | 3)
        for _ in range(4096):
            if p.bit_length() != bits:
                break
            if gmpy2.is_prime(p, MR_ROUNDS):
                return int(p)
            p += 4


def is_safe_prime(p: int) -> bool:
    """True if p and (p-1)/2 are both (probable) primes."""
    return p > 5 and p % 2 == 1 and gmpy2.is_prime(p, MR_ROUNDS) and gmpy2.is_prime((p - 1) // 2, MR_ROUNDS)


def safe_prime(bits: int, rng: Rng | None = None) -> int:
    """A random safe prime p = 2q + 1 of exactly `bits` bits (top two bits set), sieve-based."""
    if bits < 16:
        raise InvalidInputError("prime size too small")
    rng = resolve_rng(rng)
    while True:
        # q has bits-1 bits with its top two bits set, so p = 2q+1 has `bits` bits, top two set.
        q0 = _random_odd(bits - 1, rng)
        if q0 % 3 != 2:  # q ≡ 2 mod 3 is the only class where neither q nor 2q+1 is divisible by 3
            q0 += 2 * ((2 - q0 % 3) % 3)
        step = 6  # keeps q odd and q ≡ 2 (mod 3)
        alive = bytearray([1]) * SIEVE_WINDOW
        for r in _SMALL[1:]:
            if r >= q0:
                break
            inv_step = pow(step, -1, r)
            # q0 + step*j ≡ 0 (mod r)  and  2(q0 + step*j) + 1 ≡ 0 (mod r)
            for target in (0, (r - 1) // 2):
                j = ((target - q0) * inv_step) % r
                alive[j::r] = bytearray(len(range(j, SIEVE_WINDOW, r)))
        for j in range(SIEVE_WINDOW):
            if not alive[j]:
                continue
            q = gmpy2.mpz(q0 + step * j)
            if q.bit_length() != bits - 1:
                break
            if gmpy2.powmod(2, q - 1, q) != 1:
                continue
            p = 2 * q + 1
            if gmpy2.powmod(2, p - 1, p) != 1:
                continue
            if gmpy2.is_prime(q, MR_ROUNDS) and gmpy2.is_prime(p, MR_ROUNDS):
                return int(p)
