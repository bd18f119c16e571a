"""Schnorr proofs of knowledge on secp256k1.

* `prove_dlog` / `verify_dlog`: knowledge of x with X = x·G (Schnorr 1991), challenge over
  (ssid, prover pid, X, R) so an honest proof cannot be replayed under another pid or session
  (SECURITY.md Z1, C2; CVE-2022-47930). Used for a_{i,0}, x_i and γ_i.
* `prove_two_base` / `verify_two_base`: knowledge of (s, l) with V = s·R + l·G (GG18 §4.3 phase 5B,
  the proof attached to V_i).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from tss.ecdsa.curve import G, Point, Q, add, base_mul, decode_point, encode_point, mul, random_scalar
from tss.errors import EncodingError
from tss.rng import Rng, resolve_rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.transcript import Transcript

__all__ = [
    "DlogProof",
    "H",
    "SigmaLinkProof",
    "TwoBaseProof",
    "prove_dlog",
    "prove_sigma_link",
    "prove_two_base",
    "verify_dlog",
    "verify_sigma_link",
    "verify_two_base",
]


def _challenge(tag: str, ssid: bytes, prover: int, points: list[tuple[str, Point]]) -> int:
    tr = Transcript(tag).bytes("ssid", ssid).int("prover", prover)
    for label, p in points:
        tr.point(label, p)
    return tr.challenge_int(Q)


@dataclass(frozen=True, slots=True)
class DlogProof:
    r: Point
    z: int

    def to_wire(self) -> dict[str, Any]:
        return {"R": encode_point(self.r).hex(), "z": enc_int(self.z)}

    @classmethod
    def from_wire(cls, obj: Any) -> DlogProof:
        if not isinstance(obj, dict) or not isinstance(obj.get("R"), str) or len(obj["R"]) != 66:
            raise EncodingError("malformed Schnorr proof")
        try:
            r = decode_point(bytes.fromhex(obj["R"]))
        except ValueError as exc:
            raise EncodingError("malformed Schnorr proof") from exc
        z = dec_int(obj.get("z"), 256)
        if z >= Q:
            raise EncodingError("scalar out of range")
        return cls(r, z)


def prove_dlog(x: int, ssid: bytes, prover: int, rng: Rng | None = None, *, tag: str = "schnorr-dlog") -> DlogProof:
    rng = resolve_rng(rng)
    big_x = base_mul(x)
    k = random_scalar(rng)
    r = base_mul(k)
    assert big_x is not None and r is not None
    e = _challenge(tag, ssid, prover, [("G", G), ("X", big_x), ("R", r)])
    return DlogProof(r, (k + e * x) % Q)


def verify_dlog(proof: DlogProof, big_x: Point, ssid: bytes, prover: int, *, tag: str = "schnorr-dlog") -> bool:
    e = _challenge(tag, ssid, prover, [("G", G), ("X", big_x), ("R", proof.r)])
    lhs = base_mul(proof.z)
    rhs = add(proof.r, mul(big_x, e))
    return lhs is not None and rhs is not None and hmac.compare_digest(lhs.format(), rhs.format())


@dataclass(frozen=True, slots=True)
class TwoBaseProof:
    a: Point
    z1: int
    z2: int

    def to_wire(self) -> dict[str, Any]:
        return {"A": encode_point(self.a).hex(), "z1": enc_int(self.z1), "z2": enc_int(self.z2)}

    @classmethod
    def from_wire(cls, obj: Any) -> TwoBaseProof:
        if not isinstance(obj, dict) or not isinstance(obj.get("A"), str) or len(obj["A"]) != 66:
            raise EncodingError("malformed two-base proof")
        try:
            a = decode_point(bytes.fromhex(obj["A"]))
        except ValueError as exc:
            raise EncodingError("malformed two-base proof") from exc
        z1, z2 = dec_int(obj.get("z1"), 256), dec_int(obj.get("z2"), 256)
        if z1 >= Q or z2 >= Q:
            raise EncodingError("scalar out of range")
        return cls(a, z1, z2)


def prove_two_base(
    s: int,
    blind: int,
    base_r: Point,
    ssid: bytes,
    prover: int,
    rng: Rng | None = None,
    *,
    tag: str = "schnorr-two-base",
) -> TwoBaseProof:
    """Prove knowledge of (s, blind) with V = s·R + blind·G."""
    rng = resolve_rng(rng)
    v = add(mul(base_r, s), base_mul(blind))
    a_s, a_l = random_scalar(rng), random_scalar(rng)
    a = add(mul(base_r, a_s), base_mul(a_l))
    assert v is not None and a is not None
    e = _challenge(tag, ssid, prover, [("G", G), ("R", base_r), ("V", v), ("A", a)])
    return TwoBaseProof(a, (a_s + e * s) % Q, (a_l + e * blind) % Q)


def verify_two_base(
    proof: TwoBaseProof, v: Point, base_r: Point, ssid: bytes, prover: int, *, tag: str = "schnorr-two-base"
) -> bool:
    e = _challenge(tag, ssid, prover, [("G", G), ("R", base_r), ("V", v), ("A", proof.a)])
    lhs = add(mul(base_r, proof.z1), base_mul(proof.z2))
    rhs = add(proof.a, mul(v, e))
    return lhs is not None and rhs is not None and hmac.compare_digest(lhs.format(), rhs.format())


# -- GG20 phase 6: S_i = σ_i·R consistent with T_i = σ_i·G + l_i·H ------------------------------------


def _nums_h() -> Point:
    """Second generator H with unknown discrete log: first x = SHA-256(tag ‖ ctr) that is on the curve."""
    import hashlib

    ctr = 0
    while True:
        x = hashlib.sha256(b"mpc-signer/v1/gg20/H" + ctr.to_bytes(4, "big")).digest()
        try:
            return decode_point(b"\x02" + x)
        except EncodingError:
            ctr += 1


H: Point = _nums_h()
"""Nothing-up-my-sleeve generator for the T_i commitments of GG20 (eprint 2020/540 §3.2, phase 3)."""


@dataclass(frozen=True, slots=True)
class SigmaLinkProof:
    """Knowledge of (σ, l) with S = σ·R and T = σ·G + l·H (GG20 phase 6 proof for S_i)."""

    a1: Point
    a2: Point
    z1: int
    z2: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "A1": encode_point(self.a1).hex(),
            "A2": encode_point(self.a2).hex(),
            "z1": enc_int(self.z1),
            "z2": enc_int(self.z2),
        }

    @classmethod
    def from_wire(cls, obj: Any) -> SigmaLinkProof:
        if not isinstance(obj, dict):
            raise EncodingError("malformed proof")
        pts = []
        for k in ("A1", "A2"):
            if not isinstance(obj.get(k), str) or len(obj[k]) != 66:
                raise EncodingError("malformed proof")
            try:
                pts.append(decode_point(bytes.fromhex(obj[k])))
            except ValueError as exc:
                raise EncodingError("malformed proof") from exc
        z1, z2 = dec_int(obj.get("z1"), 256), dec_int(obj.get("z2"), 256)
        if z1 >= Q or z2 >= Q:
            raise EncodingError("scalar out of range")
        return cls(pts[0], pts[1], z1, z2)


def _link_e(r: Point, s: Point, t: Point, a1: Point, a2: Point, ssid: bytes, prover: int) -> int:
    pts = [("G", G), ("H", H), ("R", r), ("S", s), ("T", t), ("A1", a1), ("A2", a2)]
    return _challenge("gg20-sigma-link", ssid, prover, pts)


def prove_sigma_link(
    sigma: int, blind: int, r: Point, ssid: bytes, prover: int, rng: Rng | None = None
) -> SigmaLinkProof:
    rng = resolve_rng(rng)
    s, t = mul(r, sigma), add(base_mul(sigma), mul(H, blind))
    a, b = random_scalar(rng), random_scalar(rng)
    a1, a2 = mul(r, a), add(base_mul(a), mul(H, b))
    assert s is not None and t is not None and a1 is not None and a2 is not None
    e = _link_e(r, s, t, a1, a2, ssid, prover)
    return SigmaLinkProof(a1, a2, (a + e * sigma) % Q, (b + e * blind) % Q)


def verify_sigma_link(proof: SigmaLinkProof, r: Point, s: Point, t: Point, ssid: bytes, prover: int) -> bool:
    e = _link_e(r, s, t, proof.a1, proof.a2, ssid, prover)
    lhs1, rhs1 = mul(r, proof.z1), add(proof.a1, mul(s, e))
    lhs2, rhs2 = add(base_mul(proof.z1), mul(H, proof.z2)), add(proof.a2, mul(t, e))
    if lhs1 is None or rhs1 is None or lhs2 is None or rhs2 is None:
        return False
    return hmac.compare_digest(lhs1.format() + lhs2.format(), rhs1.format() + rhs2.format())
