"""Checks on a peer's Paillier N and ring-Pedersen (Ñ, s, t) before anything uses them.

SECURITY.md P3: exact configured bit length, odd, not prime, not a perfect square, no modulus equal
to another party's N or Ñ. P4: s, t ∉ {0, 1, Ñ-1}, units, Jacobi symbol 1, s ≠ t, and no s or t
reused from another party (plus the Π^prm proofs in `tss.zk.prm`). P2: trial division by small
primes is an extra sanity check only; Π^fac is what proves the absence of small factors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import gmpy2

from tss.errors import ProtocolError
from tss.paillier.preparams import RingPedersenParams
from tss.paillier.primes import small_primes

__all__ = ["check_modulus", "check_ring_pedersen", "check_unique"]

_TRIAL_PRIMES = small_primes(1 << 12)
_TRIAL_PRODUCT = math.prod(_TRIAL_PRIMES)


def check_modulus(n: int, bits: int, sender: int, what: str = "paillier") -> None:
    """P3 checks on one modulus; raise `ProtocolError` naming `sender`."""
    if not isinstance(n, int) or n.bit_length() != bits:
        raise ProtocolError(f"{what}_modulus_size", (sender,))
    if n % 2 == 0:
        raise ProtocolError(f"{what}_modulus_even", (sender,))
    if gmpy2.is_square(n):
        raise ProtocolError(f"{what}_modulus_square", (sender,))
    if math.gcd(n, _TRIAL_PRODUCT) != 1:
        raise ProtocolError(f"{what}_modulus_small_factor", (sender,))
    if gmpy2.is_prime(n, 25):
        raise ProtocolError(f"{what}_modulus_prime", (sender,))


def check_ring_pedersen(params: RingPedersenParams, bits: int, sender: int) -> None:
    """P3 on Ñ and P4 on s, t (the Π^prm proof is verified separately)."""
    check_modulus(params.n, bits, sender, "ring_pedersen")
    n = params.n
    for v in (params.s, params.t):
        if not 1 < v < n - 1 or math.gcd(v, n) != 1 or gmpy2.jacobi(v, n) != 1:
            raise ProtocolError("ring_pedersen_bad_base", (sender,))
    if params.s == params.t:
        raise ProtocolError("ring_pedersen_equal_bases", (sender,))


def check_unique(paillier: Mapping[int, int], ring: Mapping[int, RingPedersenParams]) -> None:
    """No N or Ñ equals another party's N or Ñ, no s/t reused across parties (P3, P4).

    The culprit is the later (higher-id) party holding a duplicate: the earliest holder is assumed
    honest; both values are public so any party can re-run this check.
    """
    seen: dict[int, int] = {}
    for pid in sorted(set(paillier) | set(ring)):
        values = []
        if pid in paillier:
            values.append(paillier[pid])
        if pid in ring:
            values.extend([ring[pid].n, ring[pid].s, ring[pid].t])
        if len(set(values)) != len(values):
            raise ProtocolError("parameter_reused", (pid,))
        for v in values:
            if v in seen and seen[v] != pid:
                raise ProtocolError("parameter_reused", (pid,))
            seen[v] = pid
