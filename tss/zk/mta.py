"""Range proofs of the GG18 MtA (eprint 2019/114, Appendix A; bounds as in bnb-chain/tss-lib).

* `AliceRangeProof` (A.1): c = Enc_N(m; r) with m ∈ [-q³, q³]. Bound: s1 ≤ q³.
* `BobProof` (A.3, "respondent ZK proof"): c2 = c1^x · Enc_N(y; r) with x ∈ [-q³, q³] and
  y ∈ [-q⁷, q⁷]; `BobProof` with `big_x` set is MtAwc (A.2): additionally X = x·G, where X is
  computed by the verifier from its own keygen state (SECURITY.md M3). Bounds: s1 ≤ q³, t1 ≤ q⁷.

Statistical parameters (tss-lib / GG18): honest m, x < q, β' < q⁵, masks α ∈ Z_{q³}, γ ∈ Z_{q⁷},
ρ ∈ Z_{q·Ñ}, ρ', σ', τ ∈ Z_{q³·Ñ}: the mask exceeds challenge·witness (< q²) by a factor q ≈ 2^256
(Z6). Every proof is checked under the verifier's own ring-Pedersen (Ñ, h1 = s, h2 = t) (P5), and its
transcript binds ssid, prover, verifier, N, Ñ, h1, h2, every ciphertext and every first message (Z1;
tss-lib#42 left `u` out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import gmpy2

from tss.ct import powmod_secret
from tss.ecdsa.curve import Point, Q, add, base_mul, decode_point, encode_point, mul
from tss.errors import EncodingError
from tss.paillier.keys import PaillierPublicKey, random_unit
from tss.paillier.preparams import RingPedersenParams
from tss.rng import Rng, resolve_rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.transcript import Transcript

__all__ = ["Q3", "Q7", "AliceRangeProof", "BobProof", "prove_alice", "prove_bob", "verify_alice", "verify_bob"]

Q3 = Q**3
Q5 = Q**5
Q7 = Q**7


def _pw(b: int, e: int, m: int) -> int:
    return int(gmpy2.powmod(b, e, m))


def _ped(rp: RingPedersenParams, a: int, b: int) -> int:
    """h1^a · h2^b mod Ñ with secret exponents."""
    return powmod_secret(rp.s, a, rp.n) * powmod_secret(rp.t, b, rp.n) % rp.n


def _ped_pub(rp: RingPedersenParams, a: int, b: int) -> int:
    return _pw(rp.s, a, rp.n) * _pw(rp.t, b, rp.n) % rp.n


def _base(
    tag: str, pk: PaillierPublicKey, rp: RingPedersenParams, ssid: bytes, prover: int, verifier: int
) -> Transcript:
    tr = Transcript(tag).bytes("ssid", ssid).int("prover", prover).int("verifier", verifier)
    return tr.int("N", pk.n).int("Nt", rp.n).int("h1", rp.s).int("h2", rp.t)


@dataclass(frozen=True, slots=True)
class AliceRangeProof:
    """Alice's range proof; with `y` set it also proves R̄ = m·R (GG20 §3.2 phase 6 consistency
    proof for R̄_i, the "PDL with slack" / CGGMP Π^log* check s1·R = y + e·R̄)."""

    z: int
    u: int
    w: int
    s: int
    s1: int
    s2: int
    y: Point | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: enc_int(getattr(self, f.name)) for f in fields(self) if f.name != "y"}
        if self.y is not None:
            out["y"] = encode_point(self.y).hex()
        return out

    @classmethod
    def from_wire(cls, obj: Any, n_bits: int, *, with_point: bool = False) -> AliceRangeProof:
        if not isinstance(obj, dict) or ("y" in obj) != with_point:
            raise EncodingError("malformed range proof")
        cap = 2 * n_bits + 1024  # widest value: s2 < q·(q·Ñ) + q³Ñ; N² for u (H7)
        vals = {f.name: dec_int(obj.get(f.name), cap) for f in fields(cls) if f.name != "y"}
        return cls(**vals, y=_point(obj["y"]) if with_point else None)


def _point(obj: Any) -> Point:
    if not isinstance(obj, str) or len(obj) != 66:
        raise EncodingError("malformed point")
    try:
        return decode_point(bytes.fromhex(obj))
    except ValueError as exc:
        raise EncodingError("malformed point") from exc


def _alice_e(
    pk: PaillierPublicKey,
    rp: RingPedersenParams,
    c: int,
    pr: AliceRangeProof,
    ssid: bytes,
    pv: tuple[int, int],
    stmt: tuple[Point, Point] | None,
) -> int:
    tag = "zk/mta/alice-range" if stmt is None else "zk/mta/alice-range-log"
    tr = _base(tag, pk, rp, ssid, *pv).int("c", c).int("z", pr.z).int("u", pr.u).int("w", pr.w)
    if stmt is not None and pr.y is not None:
        tr.point("R", stmt[0]).point("Rbar", stmt[1]).point("y", pr.y)
    return tr.challenge_int(Q)


def prove_alice(
    pk: PaillierPublicKey,
    rp: RingPedersenParams,
    c: int,
    m: int,
    r: int,
    ssid: bytes,
    prover: int,
    verifier: int,
    rng: Rng | None = None,
    *,
    point_base: Point | None = None,
) -> AliceRangeProof:
    """Prove c = Enc(m; r) with m small, under the verifier's `rp` (and R̄ = m·`point_base` if given)."""
    rng = resolve_rng(rng)
    n, n2 = pk.n, pk.n2
    alpha = rng.randbelow(Q3)
    beta = random_unit(n, rng)
    gamma = rng.randbelow(Q3 * rp.n)
    rho = rng.randbelow(Q * rp.n)
    z = _ped(rp, m, rho)
    u = (1 + alpha * n) * _pw(beta, n, n2) % n2
    w = _ped(rp, alpha, gamma)
    stmt = None
    y = None
    if point_base is not None:
        y, r_bar = mul(point_base, alpha), mul(point_base, m)
        if y is None or r_bar is None:
            raise EncodingError("degenerate point statement")
        stmt = (point_base, r_bar)
    partial = AliceRangeProof(z, u, w, 0, 0, 0, y)
    e = _alice_e(pk, rp, c, partial, ssid, (prover, verifier), stmt)
    s = powmod_secret(r, e, n) * beta % n
    return AliceRangeProof(z, u, w, s, e * m + alpha, e * rho + gamma, y)


def verify_alice(
    pk: PaillierPublicKey,
    rp: RingPedersenParams,
    c: int,
    pr: AliceRangeProof,
    ssid: bytes,
    prover: int,
    verifier: int,
    *,
    stmt: tuple[Point, Point] | None = None,
) -> bool:
    """Verify; `stmt` = (R, R̄) requires the point relation R̄ = m·R as well."""
    n, n2, nt = pk.n, pk.n2, rp.n
    if (stmt is None) != (pr.y is None):
        return False
    if pr.s1 > Q3:
        return False
    if not (0 < pr.z < nt and 0 < pr.w < nt and 0 < pr.u < n2 and 0 < pr.s < n):
        return False
    if math.gcd(pr.z, nt) != 1 or math.gcd(pr.w, nt) != 1 or math.gcd(pr.u, n) != 1 or math.gcd(pr.s, n) != 1:
        return False
    if not 0 < c < n2 or math.gcd(c, n) != 1:
        return False
    e = _alice_e(pk, rp, c, pr, ssid, (prover, verifier), stmt)
    if stmt is not None:
        lhs = mul(stmt[0], pr.s1)
        rhs = add(pr.y, mul(stmt[1], e))
        if lhs is None or rhs is None or lhs.format() != rhs.format():
            return False
    lhs_u = (1 + pr.s1 * n) * _pw(pr.s, n, n2) * _pw(c, -e, n2) % n2
    if lhs_u != pr.u:
        return False
    return _ped_pub(rp, pr.s1, pr.s2) * _pw(pr.z, -e, nt) % nt == pr.w


@dataclass(frozen=True, slots=True)
class BobProof:
    z: int
    z_prime: int
    t: int
    v: int
    w: int
    s: int
    s1: int
    s2: int
    t1: int
    t2: int
    u: Point | None = None  # α·G, present only in MtAwc

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: enc_int(getattr(self, f.name)) for f in fields(self) if f.name != "u"}
        if self.u is not None:
            out["u"] = encode_point(self.u).hex()
        return out

    @classmethod
    def from_wire(cls, obj: Any, n_bits: int, *, with_check: bool) -> BobProof:
        if not isinstance(obj, dict) or ("u" in obj) != with_check:
            raise EncodingError("malformed Bob proof")
        cap = 2 * n_bits + 2048
        vals = {f.name: dec_int(obj.get(f.name), cap) for f in fields(cls) if f.name != "u"}
        u = None
        if with_check:
            if not isinstance(obj["u"], str) or len(obj["u"]) != 66:
                raise EncodingError("malformed Bob proof")
            try:
                u = decode_point(bytes.fromhex(obj["u"]))
            except ValueError as exc:
                raise EncodingError("malformed Bob proof") from exc
        return cls(**vals, u=u)


def _bob_e(
    pk: PaillierPublicKey,
    rp: RingPedersenParams,
    c1: int,
    c2: int,
    big_x: Point | None,
    pr: BobProof,
    ssid: bytes,
    pv: tuple[int, int],
) -> int:
    tag = "zk/mta/bob-wc" if big_x is not None else "zk/mta/bob"
    tr = _base(tag, pk, rp, ssid, *pv).int("c1", c1).int("c2", c2)
    if big_x is not None and pr.u is not None:
        tr.point("X", big_x).point("u", pr.u)
    for name in ("z", "z_prime", "t", "v", "w"):
        tr.int(name, getattr(pr, name))
    return tr.challenge_int(Q)


def prove_bob(
    pk: PaillierPublicKey,
    rp: RingPedersenParams,
    c1: int,
    c2: int,
    x: int,
    y: int,
    r: int,
    ssid: bytes,
    prover: int,
    verifier: int,
    *,
    with_check: bool,
    rng: Rng | None = None,
) -> BobProof:
    """Prove c2 = c1^x · Enc(y; r) (and X = x·G when `with_check`) under Alice's `rp`."""
    rng = resolve_rng(rng)
    n, n2, nt = pk.n, pk.n2, rp.n
    alpha = rng.randbelow(Q3)
    rho = rng.randbelow(Q * nt)
    rho_p = rng.randbelow(Q3 * nt)
    sigma = rng.randbelow(Q * nt)
    beta = random_unit(n, rng)
    gamma = rng.randbelow(Q7)
    tau = rng.randbelow(Q3 * nt)
    u = base_mul(alpha) if with_check else None
    z = _ped(rp, x, rho)
    z_prime = _ped(rp, alpha, rho_p)
    t = _ped(rp, y, sigma)
    v = powmod_secret(c1, alpha, n2) * (1 + gamma * n) * _pw(beta, n, n2) % n2
    w = _ped(rp, gamma, tau)
    partial = BobProof(z, z_prime, t, v, w, 0, 0, 0, 0, 0, u)
    big_x = base_mul(x) if with_check else None
    e = _bob_e(pk, rp, c1, c2, big_x, partial, ssid, (prover, verifier))
    s = powmod_secret(r, e, n) * beta % n
    return BobProof(z, z_prime, t, v, w, s, e * x + alpha, e * rho + rho_p, e * y + gamma, e * sigma + tau, u)


def verify_bob(
    pk: PaillierPublicKey,
    rp: RingPedersenParams,
    c1: int,
    c2: int,
    pr: BobProof,
    ssid: bytes,
    prover: int,
    verifier: int,
    *,
    big_x: Point | None = None,
) -> bool:
    """Verify Bob's proof; pass `big_x` (computed locally, M3) to require the MtAwc check."""
    n, n2, nt = pk.n, pk.n2, rp.n
    if (big_x is None) != (pr.u is None):
        return False
    if pr.s1 > Q3 or pr.t1 > Q7:
        return False
    for v in (pr.z, pr.z_prime, pr.t, pr.w):
        if not 0 < v < nt or math.gcd(v, nt) != 1:
            return False
    if not (0 < pr.v < n2 and 0 < pr.s < n) or math.gcd(pr.v, n) != 1 or math.gcd(pr.s, n) != 1:
        return False
    for c in (c1, c2):
        if not 0 < c < n2 or math.gcd(c, n) != 1:
            return False
    e = _bob_e(pk, rp, c1, c2, big_x, pr, ssid, (prover, verifier))
    if big_x is not None:
        lhs = base_mul(pr.s1)
        rhs = add(mul(big_x, e), pr.u)
        if lhs is None or rhs is None or lhs.format() != rhs.format():
            return False
    if _ped_pub(rp, pr.s1, pr.s2) != _pw(pr.z, e, nt) * pr.z_prime % nt:
        return False
    if _ped_pub(rp, pr.t1, pr.t2) != _pw(pr.t, e, nt) * pr.w % nt:
        return False
    lhs_c = _pw(c1, pr.s1, n2) * _pw(pr.s, n, n2) * (1 + pr.t1 * n) % n2
    return lhs_c == _pw(c2, e, n2) * pr.v % n2
