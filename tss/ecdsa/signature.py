"""ECDSA signature assembly: low-s normalisation, recovery id, independent verification.

Output (r, s, v) with s ≤ q/2 (BIP-62 / EIP-2 low-s) and v the recovery id (parity of R.y, +2 when
R.x ≥ q), flipped with s. Before release the signature is verified with libsecp256k1 (coincurve),
an independent verifier (SECURITY.md I5).
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PublicKey

from tss.ecdsa.curve import Point, Q

__all__ = ["EcdsaSignature", "assemble", "verify_digest"]

_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F


@dataclass(frozen=True, slots=True)
class EcdsaSignature:
    r: int
    s: int
    v: int

    def to_bytes(self) -> bytes:
        """65 bytes r ‖ s ‖ v (coincurve's recoverable format)."""
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.v])

    def to_der(self) -> bytes:
        def der_int(x: int) -> bytes:
            raw = x.to_bytes((x.bit_length() + 8) // 8, "big")
            return b"\x02" + bytes([len(raw)]) + raw

        body = der_int(self.r) + der_int(self.s)
        return b"\x30" + bytes([len(body)]) + body

    def public_dict(self) -> dict[str, object]:
        return {
            "r": format(self.r, "064x"),
            "s": format(self.s, "064x"),
            "v": self.v,
            "signature": self.to_bytes().hex(),
        }


def r_of(big_r: Point) -> int:
    return int.from_bytes(big_r.format(compressed=False)[1:33], "big") % Q


def assemble(big_r: Point, s: int) -> EcdsaSignature:
    raw = big_r.format(compressed=False)
    x = int.from_bytes(raw[1:33], "big")
    v = (raw[64] & 1) | (2 if x >= Q else 0)
    s %= Q
    if s > Q // 2:
        s, v = Q - s, v ^ 1
    return EcdsaSignature(x % Q, s, v)


def verify_digest(sig: EcdsaSignature, group_key: Point, digest: bytes) -> bool:
    """Verify with libsecp256k1 (recover and compare, then plain verify)."""
    if not (0 < sig.r < Q and 0 < sig.s < Q) or len(digest) != 32:
        return False
    try:
        rec = PublicKey.from_signature_and_message(sig.to_bytes(), digest, hasher=None)
        return rec.format() == group_key.format() and group_key.verify(sig.to_der(), digest, hasher=None)
    except (ValueError, TypeError):
        return False
