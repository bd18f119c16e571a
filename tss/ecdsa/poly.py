"""Shamir sharing over secp256k1's scalar field, Feldman VSS and Lagrange coefficients.

Small local helpers (the group-generic `tss.shamir` is written elsewhere). Party indices are checked
before any evaluation or interpolation (SECURITY.md I1): integers in [1, q-1], pairwise distinct
(index q would evaluate to f(0), the secret; i and i+q would collide mod q). Feldman vectors have
exactly t entries (degree t-1), valid non-identity points (C3, C4).
"""

from __future__ import annotations

from collections.abc import Sequence

from tss.ecdsa.curve import Point, Q, add, base_mul, mul, point_eq, random_scalar
from tss.errors import InvalidInputError
from tss.rng import Rng

__all__ = [
    "MAX_PARTIES",
    "check_indices",
    "eval_poly",
    "feldman_commit",
    "feldman_eval",
    "feldman_verify",
    "lagrange",
    "random_poly",
]

MAX_PARTIES = 1024
"""Upper bound on n: protects loops sized by peer-supplied lists (C3)."""


def check_indices(ids: Sequence[int]) -> list[int]:
    """Validate party indices (I1) and return them sorted; raise `InvalidInputError` otherwise."""
    if not ids or len(ids) > MAX_PARTIES:
        raise InvalidInputError("party list empty or too long")
    for i in ids:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 < i < Q or i > MAX_PARTIES:
            raise InvalidInputError("party index out of range")
    if len({i % Q for i in ids}) != len(ids):
        raise InvalidInputError("duplicate party index")
    return sorted(ids)


def random_poly(secret: int, threshold: int, rng: Rng) -> list[int]:
    """Coefficients a_0 = secret, a_1..a_{t-1} uniform (degree t-1)."""
    return [secret % Q] + [random_scalar(rng) for _ in range(threshold - 1)]


def eval_poly(coeffs: Sequence[int], x: int) -> int:
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % Q
    return acc


def feldman_commit(coeffs: Sequence[int]) -> list[Point]:
    out = []
    for c in coeffs:
        p = base_mul(c)
        if p is None:
            raise InvalidInputError("zero coefficient")
        out.append(p)
    return out


def feldman_eval(commitments: Sequence[Point], x: int) -> Point | None:
    """Σ_k x^k·C_k (public data; the point arithmetic is done by libsecp256k1)."""
    return add(*(mul(c, pow(x, k, Q)) for k, c in enumerate(commitments)))


def feldman_verify(commitments: Sequence[Point], x: int, share: int) -> bool:
    """f(x)·G = Σ_k x^k·C_k (C4)."""
    return 0 < share < Q and point_eq(base_mul(share), feldman_eval(commitments, x))


def lagrange(i: int, ids: Sequence[int]) -> int:
    """λ_i for interpolation at 0 over the set `ids` (validated by the caller)."""
    num, den = 1, 1
    for j in ids:
        if j != i:
            num = num * j % Q
            den = den * (j - i) % Q
    return num * pow(den, -1, Q) % Q
