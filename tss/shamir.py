"""Shamir secret sharing, Feldman commitments and Lagrange interpolation over any `Group`.

Shared by FROST (RFC 9591 Appendix C) and threshold ECDSA. Conventions: threshold t = the
minimum number of shares that reconstruct, so the polynomial has degree t-1 and a Feldman
commitment vector has exactly t entries (SECURITY.md C3). Party identifiers are validated before
any evaluation or interpolation (SECURITY.md I1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tss.errors import InvalidInputError
from tss.groups.base import Element, Group
from tss.rng import Rng, resolve_rng

MAX_IDENTIFIER = 65535
"""Largest accepted party identifier (RFC 9591 MAX_PARTICIPANTS bound used by this platform)."""


def validate_identifiers(group: Group, ids: Iterable[int], *, max_id: int = MAX_IDENTIFIER) -> list[int]:
    """Check identifiers are ints in [1, max_id], non-zero and distinct mod q; return them sorted.

    Raises:
        InvalidInputError: on any violation (index 0, q, 2q, i and i+q, duplicates, ...).
    """
    out = list(ids)
    if not out:
        raise InvalidInputError("empty identifier list")
    seen: set[int] = set()
    for i in out:
        if isinstance(i, bool) or not isinstance(i, int):
            raise InvalidInputError("identifier must be an int")
        if not 1 <= i <= max_id or i % group.order == 0:
            raise InvalidInputError(f"identifier {i} outside [1, {max_id}]")
        if i % group.order in seen:
            raise InvalidInputError(f"duplicate identifier {i}")
        seen.add(i % group.order)
    return sorted(out)


def validate_threshold(t: int, n: int) -> None:
    """2 <= t <= n."""
    if isinstance(t, bool) or not isinstance(t, int) or not 2 <= t <= n:
        raise InvalidInputError(f"threshold must satisfy 2 <= t <= n (t={t}, n={n})")


def random_polynomial(group: Group, constant: int, t: int, rng: Rng | None = None) -> list[int]:
    """Coefficients [constant, a_1, ..., a_{t-1}] with uniform a_k (degree t-1)."""
    rng = resolve_rng(rng)
    return [constant % group.order] + [group.random_scalar(rng) for _ in range(t - 1)]


def evaluate_polynomial(group: Group, coefficients: Sequence[int], x: int) -> int:
    """f(x) mod q by Horner's rule (RFC 9591 Appendix C.1 polynomial_evaluate)."""
    if x % group.order == 0:
        raise InvalidInputError("refusing to evaluate the sharing polynomial at 0")
    acc = 0
    for c in reversed(coefficients):
        acc = (acc * x + c) % group.order
    return acc


def commit_polynomial(group: Group, coefficients: Sequence[int]) -> list[Element]:
    """Feldman commitment [a_0·G, ..., a_{t-1}·G] (RFC 9591 Appendix C.2 vss_commit)."""
    return [group.base_mul(c) for c in coefficients]


def evaluate_commitment(group: Group, commitment: Sequence[Element], x: int) -> Element:
    """Σ_k x^k·C_k = f(x)·G, computed from public data (Horner over points)."""
    acc = group.identity
    for c in reversed(commitment):
        acc = group.add(group.mul(acc, x), c)
    return acc


def verify_share(group: Group, commitment: Sequence[Element], x: int, share: int) -> bool:
    """Feldman check f(x)·G == Σ_k x^k·C_k (RFC 9591 Appendix C.2 vss_verify, SECURITY.md C4)."""
    return group.base_mul(share) == evaluate_commitment(group, commitment, x)


def split(
    group: Group, secret: int, ids: Sequence[int], t: int, rng: Rng | None = None
) -> tuple[dict[int, int], list[int]]:
    """Shamir split of `secret` among `ids` with threshold t; returns (shares, coefficients)."""
    ids = validate_identifiers(group, ids)
    validate_threshold(t, len(ids))
    coefficients = random_polynomial(group, secret, t, rng)
    return {i: evaluate_polynomial(group, coefficients, i) for i in ids}, coefficients


def lagrange_coefficient(group: Group, ids: Sequence[int], i: int, at: int = 0) -> int:
    """λ_i for interpolation at `at` over `ids` (RFC 9591 §4.2 derive_interpolating_value for at=0).

    λ_i(x) = Π_{j≠i} (x - x_j) / (x_i - x_j).
    """
    q = group.order
    if i not in ids:
        raise InvalidInputError("identifier not in the interpolation set")
    num, den = 1, 1
    for j in ids:
        if j == i:
            continue
        num = num * (at - j) % q
        den = den * (i - j) % q
    if den == 0:
        raise InvalidInputError("duplicate identifiers in the interpolation set")
    return num * pow(den, -1, q) % q


def interpolate(group: Group, shares: dict[int, int]) -> int:
    """Recover f(0) from {id: f(id)} (RFC 9591 Appendix C.1 secret_share_combine)."""
    ids = validate_identifiers(group, shares)
    return sum(lagrange_coefficient(group, ids, i) * shares[i] for i in ids) % group.order


def interpolate_elements(group: Group, points: dict[int, Element]) -> Element:
    """Recover f(0)·G from {id: f(id)·G}."""
    ids = validate_identifiers(group, points)
    return group.lincomb((lagrange_coefficient(group, ids, i), points[i]) for i in ids)


__all__ = [
    "MAX_IDENTIFIER",
    "commit_polynomial",
    "evaluate_commitment",
    "evaluate_polynomial",
    "interpolate",
    "interpolate_elements",
    "lagrange_coefficient",
    "random_polynomial",
    "split",
    "validate_identifiers",
    "validate_threshold",
    "verify_share",
]
