"""Paillier encryption (Paillier 1999) with g = N + 1, on gmpy2.

Secret-key operations (decryption with CRT) use `tss.ct.powmod_secret` (SECURITY.md H2). Every
ciphertext that comes from a peer passes `PaillierPublicKey.validate_ciphertext` (0 < c < N²,
gcd(c, N) = 1; SECURITY.md P6) before any homomorphic operation or decryption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gmpy2

from tss.ct import powmod_secret
from tss.errors import InvalidInputError, ProtocolError
from tss.rng import Rng, resolve_rng

__all__ = ["DEFAULT_MODULUS_BITS", "MIN_MODULUS_BITS", "PaillierPrivateKey", "PaillierPublicKey"]

DEFAULT_MODULUS_BITS = 2048
"""Default N size; SECURITY.md "Numbers to use" (3072 recommended for new deployments)."""

MIN_MODULUS_BITS = 2048
"""No production path accepts a smaller N or Ñ (SECURITY.md P3, Alpha-Rays)."""


def random_unit(n: int, rng: Rng) -> int:
    """Uniform element of Z*_n (rejection sampling)."""
    while True:
        r = rng.randbelow(n)
        if r > 0 and math.gcd(r, n) == 1:
            return r


@dataclass(frozen=True, slots=True)
class PaillierPublicKey:
    """Public key N (g = N + 1 implicitly)."""

    n: int

    @property
    def n2(self) -> int:
        return self.n * self.n

    def validate_ciphertext(self, c: int, *, sender: int | None = None) -> int:
        """Check 0 < c < N² and gcd(c, N) = 1 (P6); raise `ProtocolError` naming `sender` if not."""
        if not isinstance(c, int) or not 0 < c < self.n2 or math.gcd(c, self.n) != 1:
            raise ProtocolError("invalid_ciphertext", () if sender is None else (sender,))
        return c

    def encrypt_with(self, m: int, r: int) -> int:
        """Enc(m; r) = (1 + mN) · r^N mod N². `r` is secret randomness: the exponent N is public."""
        n2 = self.n2
        return int((1 + (m % self.n) * self.n) * gmpy2.powmod(r, self.n, n2) % n2)

    def encrypt(self, m: int, rng: Rng | None = None) -> tuple[int, int]:
        """Return (ciphertext, randomness)."""
        r = random_unit(self.n, resolve_rng(rng))
        return self.encrypt_with(m, r), r

    def add(self, c1: int, c2: int) -> int:
        """Enc(m1 + m2)."""
        return c1 * c2 % self.n2

    def mul(self, c: int, k: int) -> int:
        """Enc(k · m). `k` may be secret (Bob's share in MtA): exponentiation through powmod_secret."""
        return powmod_secret(c, k, self.n2)


@dataclass(frozen=True, slots=True)
class PaillierPrivateKey:
    """Paillier key from Blum primes p ≡ q ≡ 3 (mod 4). `p` and `q` never appear in repr (H6)."""

    p: int = field(repr=False)
    q: int = field(repr=False)

    def __post_init__(self) -> None:
        if self.p == self.q or self.p % 4 != 3 or self.q % 4 != 3:
            raise InvalidInputError("Paillier primes must be distinct Blum primes")

    def __repr__(self) -> str:
        return f"PaillierPrivateKey(n_bits={self.n.bit_length()})"

    __str__ = __repr__

    @property
    def n(self) -> int:
        return self.p * self.q

    @property
    def public(self) -> PaillierPublicKey:
        return PaillierPublicKey(self.n)

    @property
    def phi(self) -> int:
        return (self.p - 1) * (self.q - 1)

    def decrypt(self, c: int) -> int:
        """CRT decryption (Paillier 1999 §7): m_p = L_p(c^{p-1} mod p²) · h_p mod p, likewise q."""
        pub = self.public
        pub.validate_ciphertext(c)
        mp = self._half(c, self.p)
        mq = self._half(c, self.q)
        # CRT recombination m = mq + q · ((mp - mq) · q^{-1} mod p); the inverse is of a secret but
        # the result is masked by the plaintext anyway (best effort, H2 note on Python limits).
        q_inv = int(gmpy2.invert(self.q, self.p))
        return (mq + self.q * ((mp - mq) * q_inv % self.p)) % self.n

    def _half(self, c: int, p: int) -> int:
        p2 = p * p
        u = powmod_secret(c, p - 1, p2)
        lp = (u - 1) // p
        # h_p = L_p(g^{p-1} mod p²)^{-1} mod p with g = N + 1: L_p = (p-1)·(N/p) = (p-1)·q' mod p
        hp = int(gmpy2.invert(((p - 1) * (self.n // p)) % p, p))
        return lp * hp % p

    def decrypt_signed(self, c: int) -> int:
        """Decrypt into the symmetric range (-N/2, N/2]."""
        m = self.decrypt(c)
        return m - self.n if m > self.n // 2 else m

    def encrypt_with(self, m: int, r: int) -> int:
        """Encryption using the factorisation (CRT on r^N), same output as the public version."""
        n, n2 = self.n, self.n * self.n
        p2, q2 = self.p * self.p, self.q * self.q
        rp = powmod_secret(r, n % (self.p * (self.p - 1)), p2)
        rq = powmod_secret(r, n % (self.q * (self.q - 1)), q2)
        rn = (rq + q2 * ((rp - rq) * int(gmpy2.invert(q2, p2)) % p2)) % n2
        return int((1 + (m % n) * n) * rn % n2)
