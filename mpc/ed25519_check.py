"""The Ed25519 check behind every envelope and node-identity signature, with libsodium (pynacl).

Why not `cryptography` here: through OpenSSL a check costs ~87 µs on the bench machine, through libsodium
~41 µs, and a batch of 256 digests has the coordinator check 1,024 envelopes (each signer 512). libsodium is
also the stricter verifier: it refuses small-order public keys and small-order R, and a non-canonical S.
The aggregate signatures the system releases are still checked by an independent verifier (mpc/verify.py).
"""

from __future__ import annotations

from nacl.bindings import crypto_sign_BYTES, crypto_sign_open, crypto_sign_PUBLICKEYBYTES
from nacl.exceptions import CryptoError

__all__ = ["ed25519_valid"]


def ed25519_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is `public_key`'s signature of `message`; False for any fault, wrong lengths too."""
    if len(public_key) != crypto_sign_PUBLICKEYBYTES or len(signature) != crypto_sign_BYTES:
        return False
    try:
        crypto_sign_open(bytes(signature) + bytes(message), bytes(public_key))
    except (CryptoError, ValueError, TypeError):  # BadSignatureError is a CryptoError
        return False
    return True
