"""Pre-parameters: a party's Paillier key and ring-Pedersen parameters, and a pool of them.

Ring-Pedersen parameters (CGGMP21 §3.3, "Ring-Pedersen Parameters"; GG18 uses (Ñ, h1, h2) for the
same thing): Ñ = P·Q with P = 2P'+1, Q = 2Q'+1 safe primes; t = τ² mod Ñ for a random unit τ, and
s = t^λ mod Ñ with λ uniform in Z*_{P'Q'}. Knowing λ the owner proves s ∈ ⟨t⟩ and t ∈ ⟨s⟩
(`tss.zk.prm`; SECURITY.md P4).

Generating the two safe primes dominates keygen cost (seconds to minutes), so pre-parameters are made
ahead of time and kept in a `PreParamsPool`. Persistence format (JSON lines, one object per line,
UTF-8, each line ending in ``\\n``)::

    {"v": 1, "bits": 2048, "paillier_p": "<hex>", "paillier_q": "<hex>",
     "rp_p": "<hex>", "rp_q": "<hex>", "lam": "<hex>", "t": "<hex>"}

`s` is recomputed from (t, λ) on load. Every value is secret; the file must be stored encrypted like
a key share. Loading re-validates each entry (primality, sizes, Blum/safe form).
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import gmpy2

from tss.ct import powmod_secret
from tss.errors import EncodingError, InvalidInputError
from tss.paillier.keys import DEFAULT_MODULUS_BITS, MIN_MODULUS_BITS, PaillierPrivateKey, random_unit
from tss.paillier.primes import MR_ROUNDS, blum_prime, is_safe_prime, safe_prime
from tss.rng import Rng, resolve_rng

__all__ = ["PreParams", "PreParamsPool", "RingPedersenParams", "RingPedersenSecret", "generate_preparams"]

FORMAT_VERSION = 1
MAX_LINE_BYTES = 16384
"""Cap on one persisted line (H7): a 4096-bit parameter set is well under 8 KiB of hex."""


@dataclass(frozen=True, slots=True)
class RingPedersenParams:
    """Public ring-Pedersen parameters (Ñ, s, t); GG18's (Ñ, h1, h2) with h1 = s, h2 = t."""

    n: int
    s: int
    t: int


@dataclass(frozen=True, slots=True)
class RingPedersenSecret:
    """Owner's trapdoor: safe primes P, Q and λ with s = t^λ. Never printed (H6)."""

    p: int = field(repr=False)
    q: int = field(repr=False)
    lam: int = field(repr=False)
    t: int

    def __repr__(self) -> str:
        return "RingPedersenSecret(<secret>)"

    __str__ = __repr__

    @property
    def n(self) -> int:
        return self.p * self.q

    @property
    def order(self) -> int:
        """|QR_Ñ| = P'·Q', the order of ⟨t⟩."""
        return ((self.p - 1) // 2) * ((self.q - 1) // 2)

    @property
    def phi(self) -> int:
        return (self.p - 1) * (self.q - 1)

    @property
    def public(self) -> RingPedersenParams:
        return RingPedersenParams(self.n, powmod_secret(self.t, self.lam, self.n), self.t)

    @property
    def lam_inv(self) -> int:
        """λ^{-1} mod P'Q', so that t = s^{λ^{-1}} (second proof direction)."""
        return int(gmpy2.invert(self.lam, self.order))


@dataclass(frozen=True, slots=True)
class PreParams:
    """One party's Paillier private key and ring-Pedersen secret."""

    paillier: PaillierPrivateKey
    ring: RingPedersenSecret
    bits: int

    def __repr__(self) -> str:
        return f"PreParams(bits={self.bits})"

    __str__ = __repr__

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "bits": self.bits,
                "paillier_p": format(self.paillier.p, "x"),
                "paillier_q": format(self.paillier.q, "x"),
                "rp_p": format(self.ring.p, "x"),
                "rp_q": format(self.ring.q, "x"),
                "lam": format(self.ring.lam, "x"),
                "t": format(self.ring.t, "x"),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, line: str | bytes, *, min_bits: int = MIN_MODULUS_BITS, trusted: bool = False) -> PreParams:
        """Parse and fully re-validate one persisted entry.

        `trusted` skips the (slow) primality re-validation; only for our own protocol state that
        this process serialised itself in an earlier round.
        """
        if len(line) > MAX_LINE_BYTES:
            raise EncodingError("pre-parameter line too long")
        try:
            obj = json.loads(line)
            if obj["v"] != FORMAT_VERSION:
                raise EncodingError("unknown pre-parameter format version")
            bits = int(obj["bits"])
            vals = {k: int(obj[k], 16) for k in ("paillier_p", "paillier_q", "rp_p", "rp_q", "lam", "t")}
        except (KeyError, TypeError, ValueError) as exc:
            raise EncodingError("malformed pre-parameter line") from exc
        pre = cls(
            PaillierPrivateKey(vals["paillier_p"], vals["paillier_q"]),
            RingPedersenSecret(vals["rp_p"], vals["rp_q"], vals["lam"], vals["t"]),
            bits,
        )
        if not trusted:
            pre.validate(min_bits=min_bits)
        return pre

    def validate(self, *, min_bits: int = MIN_MODULUS_BITS) -> None:
        """Check sizes, primality, Blum and safe-prime form, and the ring-Pedersen relation."""
        if self.bits < min_bits:
            raise InvalidInputError("modulus below the minimum size")
        half = self.bits // 2
        pp, pq = self.paillier.p, self.paillier.q
        if pp.bit_length() != half or pq.bit_length() != half or self.paillier.n.bit_length() != self.bits:
            raise InvalidInputError("Paillier primes of the wrong size")
        if not (gmpy2.is_prime(pp, MR_ROUNDS) and gmpy2.is_prime(pq, MR_ROUNDS)):
            raise InvalidInputError("Paillier factor not prime")
        rp, rq = self.ring.p, self.ring.q
        if rp == rq or self.ring.n.bit_length() != self.bits or not (is_safe_prime(rp) and is_safe_prime(rq)):
            raise InvalidInputError("ring-Pedersen modulus is not a product of two distinct safe primes")
        if not 1 < self.ring.t < self.ring.n - 1 or math.gcd(self.ring.t, self.ring.n) != 1:
            raise InvalidInputError("ring-Pedersen t out of range")
        if gmpy2.jacobi(self.ring.t, rp) != 1 or gmpy2.jacobi(self.ring.t, rq) != 1:
            raise InvalidInputError("ring-Pedersen t is not a quadratic residue")
        if not 0 < self.ring.lam < self.ring.order or math.gcd(self.ring.lam, self.ring.order) != 1:
            raise InvalidInputError("ring-Pedersen λ out of range")


def generate_preparams(
    bits: int = DEFAULT_MODULUS_BITS, rng: Rng | None = None, *, allow_small: bool = False
) -> PreParams:
    """Generate fresh pre-parameters (slow: two safe primes of bits/2).

    Args:
        bits: modulus size of both N and Ñ; at least `MIN_MODULUS_BITS` unless `allow_small` (unit
            tests of the generator only; protocol code validates peers against the configured size).
    """
    if bits < MIN_MODULUS_BITS and not allow_small:
        raise InvalidInputError("modulus below the minimum size (SECURITY.md P3)")
    if bits % 2:
        raise InvalidInputError("modulus size must be even")
    rng = resolve_rng(rng)
    half = bits // 2
    while True:
        p, q = blum_prime(half, rng), blum_prime(half, rng)
        if p != q and (p * q).bit_length() == bits:
            break
    while True:
        sp, sq = safe_prime(half, rng), safe_prime(half, rng)
        if sp != sq and (sp * sq).bit_length() == bits:
            break
    n_tilde = sp * sq
    order = ((sp - 1) // 2) * ((sq - 1) // 2)
    tau = random_unit(n_tilde, rng)
    t = tau * tau % n_tilde
    while True:
        lam = rng.randbelow(order)
        if lam > 1 and math.gcd(lam, order) == 1:
            break
    pre = PreParams(PaillierPrivateKey(p, q), RingPedersenSecret(sp, sq, lam, t), bits)
    if not 1 < t < n_tilde - 1 or not 1 < pre.ring.public.s < n_tilde - 1 or pre.ring.public.s == t:
        return generate_preparams(bits, rng, allow_small=allow_small)  # negligible; redraw
    return pre


class PreParamsPool:
    """FIFO pool of ready pre-parameters so keygen never waits on prime generation.

    The participant worker fills it in the background (`put`; generation is CPU-bound, so run
    `generate_preparams` in a worker process and `put` the result) and persists it with
    `dumps`/`loads` (JSON lines, see module docstring). `take` pops one entry; each entry is used
    exactly once, so persist the pool again after every `take`. Methods are thread-safe.
    """

    def __init__(self, items: Iterable[PreParams] = (), *, bits: int = DEFAULT_MODULUS_BITS) -> None:
        self.bits = bits
        self._lock = threading.Lock()
        self._items: deque[PreParams] = deque()
        for item in items:
            self.put(item)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"PreParamsPool(bits={self.bits}, size={len(self._items)})"

    def put(self, item: PreParams) -> None:
        if item.bits != self.bits:
            raise InvalidInputError("pre-parameters of another modulus size")
        with self._lock:
            self._items.append(item)

    def take(self, *, generate_if_empty: bool = False, rng: Rng | None = None) -> PreParams:
        """Pop the oldest entry; if empty, generate one when allowed, else raise."""
        with self._lock:
            if self._items:
                return self._items.popleft()
        if generate_if_empty:
            return generate_preparams(self.bits, rng)
        raise InvalidInputError("pre-parameter pool is empty")

    def fill(self, target: int, rng: Rng | None = None) -> int:
        """Generate until `target` entries are held; returns how many were added."""
        added = 0
        while len(self._items) < target:
            self.put(generate_preparams(self.bits, rng))
            added += 1
        return added

    def dumps(self) -> str:
        with self._lock:
            items = list(self._items)
        return "".join(item.to_json() + "\n" for item in items)

    @classmethod
    def loads(cls, text: str, *, bits: int = DEFAULT_MODULUS_BITS) -> PreParamsPool:
        return cls((PreParams.from_json(line) for line in text.splitlines() if line.strip()), bits=bits)
