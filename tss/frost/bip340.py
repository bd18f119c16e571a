"""BIP-340 Schnorr signatures over secp256k1, written from the BIP text (bitcoin/bips bip-0340).

`verify` is the independent check of FROST(secp256k1, SHA-256-TR) signatures; `sign` exists only
to replay the BIP's own test vectors (it takes a secret key and must not be used by protocols).
"""

from __future__ import annotations

from tss.errors import EncodingError
from tss.frost.hashing import tagged_hash
from tss.groups.secp256k1 import SECP256K1, N, P


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """BIP-340 Verify(pk, m, sig) for a 32-byte x-only key and 64-byte signature."""
    g = SECP256K1
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        pk = g.lift_x(public_key)  # fails if x >= p or x is not on the curve
    except EncodingError:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if r >= P or s >= N:
        return False
    e = int.from_bytes(tagged_hash("BIP0340/challenge", signature[:32] + public_key + message), "big") % N
    big_r = g.sub(g.base_mul(s), g.mul(pk, e))
    if g.is_identity(big_r) or not g.has_even_y(big_r):
        return False
    return g.x_bytes(big_r) == signature[:32]


def sign(secret_key: bytes, message: bytes, aux_rand: bytes) -> bytes:
    """BIP-340 Sign(sk, m, a); test-vector replay only."""
    g = SECP256K1
    d0 = int.from_bytes(secret_key, "big")
    if not 1 <= d0 < N or len(aux_rand) != 32:
        raise ValueError("invalid BIP-340 secret key or aux_rand")
    pk = g.base_mul(d0)
    d = d0 if g.has_even_y(pk) else N - d0
    t = (d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux_rand), "big")).to_bytes(32, "big")
    k0 = int.from_bytes(tagged_hash("BIP0340/nonce", t + g.x_bytes(pk) + message), "big") % N
    if k0 == 0:
        raise ValueError("BIP-340 nonce is zero")
    big_r = g.base_mul(k0)
    k = k0 if g.has_even_y(big_r) else N - k0
    e = int.from_bytes(tagged_hash("BIP0340/challenge", g.x_bytes(big_r) + g.x_bytes(pk) + message), "big") % N
    return g.x_bytes(big_r) + ((k + e * d) % N).to_bytes(32, "big")


__all__ = ["sign", "verify"]
