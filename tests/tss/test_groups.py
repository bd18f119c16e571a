"""Group layer: arithmetic laws, identity handling, and strict decoding (SECURITY.md I3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tss.errors import EncodingError
from tss.groups import ED25519, SECP256K1, Group, get_group
from tss.groups.ed25519 import P as ED_P
from tss.groups.secp256k1 import P as K1_P

GROUPS = [SECP256K1, ED25519]
VECTORS = Path("/work/shared/vectors")


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
def test_laws_and_identity(g: Group) -> None:
    a, b = g.base_mul(5), g.base_mul(7)
    assert g.add(a, b) == g.base_mul(12)
    assert g.add(a, a) == g.base_mul(10)
    assert g.add(a, g.neg(a)) == g.identity
    assert g.sub(a, a) == g.identity
    assert g.add(g.identity, a) == a and g.add(a, g.identity) == a
    assert g.mul(a, 0) == g.identity and g.base_mul(0) == g.identity
    assert g.mul(g.identity, 5) == g.identity
    assert g.base_mul(g.order) == g.identity
    assert g.mul(a, g.order - 1) == g.neg(a)
    assert g.sum([a, b, g.neg(a), g.neg(b)]) == g.identity
    assert g.lincomb([(2, a), (3, b)]) == g.base_mul(31)
    assert get_group(g.name) is g


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
@settings(max_examples=15, deadline=None)
@given(x=st.integers(min_value=1), y=st.integers(min_value=1))
def test_homomorphism(g: Group, x: int, y: int) -> None:
    assert g.add(g.base_mul(x), g.base_mul(y)) == g.base_mul(x + y)
    assert g.mul(g.base_mul(x), y) == g.base_mul(x * y)
    e = g.base_mul(x)
    if not g.is_identity(e):
        assert g.deserialize_element(g.serialize_element(e)) == e


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
def test_scalar_encoding(g: Group) -> None:
    assert g.deserialize_scalar(g.serialize_scalar(g.order - 1)) == g.order - 1
    with pytest.raises(EncodingError):
        g.deserialize_scalar(g.order.to_bytes(32, g.byteorder))  # scalar == q
    with pytest.raises(EncodingError):
        g.deserialize_scalar((2**256 - 1).to_bytes(32, g.byteorder))
    with pytest.raises(EncodingError):
        g.deserialize_scalar(bytes(31))
    with pytest.raises(EncodingError):
        g.deserialize_scalar(bytes(33))
    with pytest.raises(EncodingError):
        g.serialize_scalar(g.order)


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
def test_identity_has_no_encoding(g: Group) -> None:
    with pytest.raises(EncodingError):
        g.serialize_element(g.identity)
    assert g.deserialize_element_or_identity(g.serialize_element_or_identity(g.identity)) == g.identity


@pytest.mark.parametrize("g", GROUPS, ids=lambda g: g.name)
@settings(max_examples=30, deadline=None)
@given(data=st.binary(min_size=0, max_size=40))
def test_random_bytes_decode_or_reject(g: Group, data: bytes) -> None:
    """Arbitrary bytes either raise EncodingError or round-trip canonically."""
    try:
        e = g.deserialize_element(data)
    except EncodingError:
        return
    assert g.serialize_element(e) == data


def test_secp256k1_rejects() -> None:
    g = SECP256K1
    good = g.serialize_element(g.base_mul(3))
    bad = [
        bytes(33),  # identity / zero
        b"\x04" + good[1:],  # wrong prefix
        b"\x02" + K1_P.to_bytes(32, "big"),  # x == p
        b"\x02" + (K1_P + 1).to_bytes(32, "big")[-32:],  # x >= p
        b"\x02" + (5).to_bytes(32, "big"),  # x=5: not on the curve (x^3+7 non-square)
        good[:-1],
        good + b"\x00",
        g.base_mul(3).data[:1] + b"\xff" * 32,
    ]
    for data in bad:
        with pytest.raises(EncodingError):
            g.deserialize_element(data)


def test_secp256k1_uncompressed_rejected() -> None:
    from coincurve import PrivateKey

    unc = PrivateKey.from_int(7).public_key.format(compressed=False)
    with pytest.raises(EncodingError):
        SECP256K1.deserialize_element(unc)


# Small-order points of edwards25519 (RFC 8032 / libsodium blocklist), all must be rejected.
ED_SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity (order 1)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
]


def test_ed25519_rejects() -> None:
    g = ED25519
    for h in ED_SMALL_ORDER:
        with pytest.raises(EncodingError):
            g.deserialize_element(bytes.fromhex(h))
    # non-canonical: y = p + 1 (encodes y = 1 non-canonically), y = 2^255 - 1
    for y in (ED_P + 1, ED_P, 2**255 - 1):
        with pytest.raises(EncodingError):
            g.deserialize_element(y.to_bytes(32, "little"))
    # base point plus a torsion point: on the curve but outside the prime-order subgroup
    mixed = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
    from nacl.bindings import crypto_core_ed25519_add

    torsioned = crypto_core_ed25519_add(g.generator.data, mixed)
    with pytest.raises(EncodingError):
        g.deserialize_element(torsioned)
    with pytest.raises(EncodingError):
        g.deserialize_element(bytes(31))


@pytest.mark.parametrize(
    ("rel", "g"),
    [
        ("zf-frost/frost-ed25519/elements.json", ED25519),
        ("zf-frost/frost-secp256k1/elements.json", SECP256K1),
        ("zf-frost/frost-secp256k1-tr/elements.json", SECP256K1),
    ],
)
def test_zf_invalid_element(rel: str, g: Group) -> None:
    """ZcashFoundation/frost elements.json: an encoding every implementation must reject."""
    data = bytes.fromhex(json.loads((VECTORS / rel).read_text())["elements"]["invalid_element"])
    with pytest.raises(EncodingError):
        g.deserialize_element(data)


def test_secret_mult_uses_native_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """H3: scalar multiplication is delegated (no Python fallback path exists)."""
    import coincurve

    calls = []
    orig = coincurve.PublicKey.multiply

    def spy(self, scalar, update=False):  # type: ignore[no-untyped-def]
        calls.append(1)
        return orig(self, scalar, update)

    monkeypatch.setattr(coincurve.PublicKey, "multiply", spy)
    SECP256K1.mul(SECP256K1.generator, 12345)
    assert calls
