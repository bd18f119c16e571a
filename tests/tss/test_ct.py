"""SECURITY.md H2 / test row 18: the secret-exponent helper handles 0, negative, even modulus."""

import gmpy2
import pytest

import tss.ct
from tss.ct import powmod_secret
from tss.errors import InvalidInputError


def test_matches_pow_for_positive_exponents():
    for b, e, m in [(3, 5, 7), (2**300 + 1, 2**200 + 7, 2**521 - 1), (0, 5, 9)]:
        assert powmod_secret(b, e, m) == pow(b, e, m)


def test_exponent_zero_returns_one_without_powmod_sec(monkeypatch):
    def boom(*a):
        raise AssertionError("powmod_sec must not be called for e = 0")

    monkeypatch.setattr(tss.ct.gmpy2, "powmod_sec", boom)
    assert powmod_secret(12345, 0, 97) == 1


def test_negative_exponent_uses_inverse_and_powmod_sec(monkeypatch):
    calls = []
    real = gmpy2.powmod_sec

    def spy(b, e, m):
        calls.append(e)
        return real(b, e, m)

    monkeypatch.setattr(tss.ct.gmpy2, "powmod_sec", spy)
    assert powmod_secret(5, -3, 101) == pow(5, -3, 101)
    assert calls == [3]


def test_negative_exponent_non_invertible_base():
    with pytest.raises(InvalidInputError):
        powmod_secret(7, -1, 21)


@pytest.mark.parametrize("modulus", [8, 2, 0, 1, -7])
def test_even_or_tiny_modulus_refused(modulus):
    with pytest.raises(InvalidInputError):
        powmod_secret(3, 5, modulus)
