"""Fixed-base exponentiation used by the Π^prm verifier agrees with pow()."""

import secrets

import pytest

from tss.zk.fixedbase import FixedBase


@pytest.mark.parametrize("window", [1, 3, 5])
def test_matches_pow(window):
    m = secrets.randbits(512) | 1 | (1 << 511)
    b = secrets.randbelow(m)
    fb = FixedBase(b, m, 512, window)
    for e in [0, 1, 2, 31, 32, 33, (1 << 512) - 1, secrets.randbits(512), secrets.randbits(100)]:
        assert fb.pow(e) == pow(b, e, m)
    assert fb.pow(1 << 600) == pow(b, 1 << 600, m)  # beyond the table: falls back


def test_bad_window():
    with pytest.raises(ValueError):
        FixedBase(3, 7, 8, 6)
