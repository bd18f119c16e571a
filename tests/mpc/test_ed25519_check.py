"""mpc/ed25519_check.py (libsodium) accepts exactly the signatures OpenSSL accepts for keys our nodes make,
and refuses wrong lengths and small-order keys instead of raising."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpc.ed25519_check import ed25519_valid


def _openssl_valid(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_agrees_with_openssl_on_valid_and_altered_signatures() -> None:
    for n in range(100):
        key = Ed25519PrivateKey.generate()
        public, message = key.public_key().public_bytes_raw(), os.urandom(n * 7)
        signature = key.sign(message)
        assert ed25519_valid(public, message, signature) and _openssl_valid(public, message, signature)
        for altered in (_flip(signature, n * 5 % 512), _flip(public, n * 3 % 256)):
            candidates = [(public, message, altered), (altered, message, signature)] if len(altered) == 32 else \
                [(public, message, altered)]
            for args in candidates:
                assert ed25519_valid(*args) is _openssl_valid(*args)
        if message:
            assert not ed25519_valid(public, _flip(message, n % (8 * len(message))), signature)


def test_wrong_lengths_and_small_order_keys_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    public, signature = key.public_key().public_bytes_raw(), key.sign(b"m")
    assert not ed25519_valid(public[:31], b"m", signature)
    assert not ed25519_valid(public, b"m", signature[:63])
    assert not ed25519_valid(public, b"m", signature + b"\0")
    identity_point = bytes([1]) + bytes(31)  # small order: any (R, S) with R = identity, S = 0 "verifies" under it
    assert not ed25519_valid(identity_point, b"m", identity_point + bytes(32))
