"""Independent signature verification: every signature is checked by a library other than the one
that produced it before it is released (SECURITY.md I5).

- Ed25519: `cryptography` (OpenSSL).
- BIP-340 (Taproot): libsecp256k1 through coincurve's x-only key.
- FROST(secp256k1, SHA-256): RFC 9591 §6.5 equation, z·G == R + c·PK, evaluated with libsecp256k1;
  the challenge is the ciphersuite's H2 (no off-the-shelf verifier exists for this suite).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def verify_signature(curve: str, verifying_key: bytes, message: bytes, signature: bytes) -> bool:
    if curve == "ed25519":
        try:
            Ed25519PublicKey.from_public_bytes(verifying_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False
    if curve == "secp256k1-tr":
        from coincurve import PublicKeyXOnly

        try:
            return bool(PublicKeyXOnly(verifying_key).verify(signature, message))
        except (ValueError, TypeError):
            return False
    if curve == "secp256k1":
        return _verify_frost_secp256k1(verifying_key, message, signature)
    raise ValueError(f"no verifier for curve {curve!r}")


def _verify_frost_secp256k1(public_key: bytes, message: bytes, signature: bytes) -> bool:
    from coincurve import PublicKey

    from tss.frost import get_ciphersuite

    if len(signature) != 65 or len(public_key) != 33:
        return False
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # SEC 2, secp256k1 n
    try:
        r_point = PublicKey(signature[:33])
        pk = PublicKey(public_key)
    except ValueError:
        return False
    z = int.from_bytes(signature[33:], "big")
    if not 0 < z < order:
        return False
    suite = get_ciphersuite("secp256k1")
    c = suite.H2(signature[:33] + public_key + message) % order
    lhs = PublicKey.from_secret(z.to_bytes(32, "big"))
    try:
        rhs = PublicKey.combine_keys([r_point, pk.multiply(c.to_bytes(32, "big"))]) if c else r_point
    except ValueError:
        return False
    return lhs.format() == rhs.format()
