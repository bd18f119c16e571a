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

__all__ = ["DlogProof", "TwoBaseProof", "prove_dlog", "prove_two_base", "verify_dlog", "verify_two_base"]


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


def prove_two_base(s: int, blind: int, base_r: Point, ssid: bytes, prover: int, rng: Rng | None = None) -> TwoBaseProof:
    """Prove knowledge of (s, blind) with V = s·R + blind·G."""
    rng = resolve_rng(rng)
    v = add(mul(base_r, s), base_mul(blind))
    a_s, a_l = random_scalar(rng), random_scalar(rng)
    a = add(mul(base_r, a_s), base_mul(a_l))
    assert v is not None and a is not None
    e = _challenge("schnorr-two-base", ssid, prover, [("G", G), ("R", base_r), ("V", v), ("A", a)])
    return TwoBaseProof(a, (a_s + e * s) % Q, (a_l + e * blind) % Q)


def verify_two_base(proof: TwoBaseProof, v: Point, base_r: Point, ssid: bytes, prover: int) -> bool:
    e = _challenge("schnorr-two-base", ssid, prover, [("G", G), ("R", base_r), ("V", v), ("A", proof.a)])
    lhs = add(mul(base_r, proof.z1), base_mul(proof.z2))
    rhs = add(proof.a, mul(v, e))
    return lhs is not None and rhs is not None and hmac.compare_digest(lhs.format(), rhs.format())
