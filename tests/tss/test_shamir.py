"""Shamir / Feldman / Lagrange helpers (tss/shamir.py), group-generic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tss.errors import InvalidInputError
from tss.groups import ED25519, SECP256K1, Group
from tss.shamir import (
    commit_polynomial,
    evaluate_commitment,
    evaluate_polynomial,
    interpolate,
    interpolate_elements,
    lagrange_coefficient,
    split,
    validate_identifiers,
    verify_share,
)

GROUPS = [SECP256K1, ED25519]


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
@settings(max_examples=10, deadline=None)
@given(t=st.integers(2, 5), extra=st.integers(0, 3), secret=st.integers(1, 2**200))
def test_split_and_reconstruct(g: Group, t: int, extra: int, secret: int) -> None:
    ids = list(range(1, t + extra + 1))
    shares, coeffs = split(g, secret, ids, t)
    commitment = commit_polynomial(g, coeffs)
    assert len(commitment) == t
    for i, s in shares.items():
        assert verify_share(g, commitment, i, s)
        assert not verify_share(g, commitment, i, (s + 1) % g.order)
    subset = {i: shares[i] for i in ids[-t:]}
    assert interpolate(g, subset) == secret
    pts = {i: g.base_mul(s) for i, s in subset.items()}
    assert interpolate_elements(g, pts) == g.base_mul(secret)
    if t > 2:
        assert interpolate(g, dict(list(subset.items())[: t - 1])) != secret


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
def test_identifier_validation(g: Group) -> None:
    q = g.order
    for bad in ([0, 1], [q, 1], [2 * q, 1], [1, 1 + q], [1, 1], [], [-1, 2], [1, 65536]):
        with pytest.raises(InvalidInputError):
            validate_identifiers(g, bad)
    assert validate_identifiers(g, [3, 1, 257]) == [1, 3, 257]
    with pytest.raises(InvalidInputError):
        evaluate_polynomial(g, [1, 2], q)
    with pytest.raises(InvalidInputError):
        lagrange_coefficient(g, [1, 2], 3)
    with pytest.raises(InvalidInputError):
        split(g, 5, [1, 2, 3], 4)
    with pytest.raises(InvalidInputError):
        split(g, 5, [1, 2, 3], 1)


def test_evaluate_commitment_matches_polynomial() -> None:
    g = SECP256K1
    coeffs = [11, 22, 33]
    com = commit_polynomial(g, coeffs)
    assert evaluate_commitment(g, com, 9) == g.base_mul(evaluate_polynomial(g, coeffs, 9))


def test_lagrange_at_point() -> None:
    g = ED25519
    coeffs = [5, 7, 9]
    ids = [2, 5, 11]
    shares = {i: evaluate_polynomial(g, coeffs, i) for i in ids}
    x = 4
    value = sum(lagrange_coefficient(g, ids, i, at=x) * s for i, s in shares.items()) % g.order
    assert value == evaluate_polynomial(g, coeffs, x)
