"""No-small-factor proof Π^fac (CGGMP21, eprint 2021/060, §C.5 Fig. 28).

Proves that the prover's N0 = p·q has both factors of size > √N0 / 2^{ℓ+ε+1}, under the
*verifier's* ring-Pedersen parameters (Ñ, s, t) (SECURITY.md P1, P5). With N0 of 2048 bits, ℓ = 256
and ε = 512 this excludes every factor below 2^255 (BitForge uses 16-bit factors).

Statistical parameters (SECURITY.md "Numbers to use", cggmp24 SecurityLevel128):
  ℓ = `FAC_ELL` = 256 (challenge size, e ∈ ±q), ε = `FAC_EPS` = 512 (masking slack).
Masks: α, β ∈ ±2^{ℓ+ε}√N0; μ, ν ∈ ±2^ℓ·Ñ; σ ∈ ±2^ℓ·N0·Ñ; r ∈ ±2^{ℓ+ε}·N0·Ñ; x, y ∈ ±2^{ℓ+ε}·Ñ.
Verifier: s^{z1} t^{w1} = A·P^e, s^{z2} t^{w2} = B·Q^e, Q^{z1} t^{v} = T·R^e with R = s^{N0} t^σ,
and z1, z2 ∈ ±2^{ℓ+ε}√N0 (Z6, Z7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gmpy2

from tss.ct import powmod_secret
from tss.ecdsa.curve import Q as CURVE_Q
from tss.errors import EncodingError
from tss.paillier.keys import PaillierPrivateKey
from tss.paillier.preparams import RingPedersenParams
from tss.rng import Rng, resolve_rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.transcript import Transcript

__all__ = ["FAC_ELL", "FAC_EPS", "FacProof", "prove_fac", "verify_fac"]

FAC_ELL = 256
FAC_EPS = 512

_FIELDS = ("P", "Q", "A", "B", "T", "sigma", "z1", "z2", "w1", "w2", "v")


@dataclass(frozen=True, slots=True)
class FacProof:
    P: int
    Q: int
    A: int
    B: int
    T: int
    sigma: int
    z1: int
    z2: int
    w1: int
    w2: int
    v: int

    def to_wire(self) -> dict[str, Any]:
        return {k: enc_int(getattr(self, k)) for k in _FIELDS}

    @classmethod
    def from_wire(cls, obj: Any, max_bits: int) -> FacProof:
        if not isinstance(obj, dict):
            raise EncodingError("malformed Π^fac proof")
        # Widest honest value: r + e·σ̂ ~ 2^{ℓ+ε}·N0·Ñ; cap at that plus margin (H7).
        cap = 2 * max_bits + FAC_ELL + FAC_EPS + 64
        return cls(*(dec_int(obj.get(k), cap, signed=True) for k in _FIELDS))


def _challenge(n0: int, rp: RingPedersenParams, pr: FacProof, ssid: bytes, prover: int, verifier: int) -> int:
    tr = Transcript("zk/fac").bytes("ssid", ssid).int("prover", prover).int("verifier", verifier)
    tr.int("N0", n0).int("Nhat", rp.n).int("s", rp.s).int("t", rp.t)
    for k in ("P", "Q", "A", "B", "T", "sigma"):
        tr.int(k, getattr(pr, k))
    return tr.challenge_int(2 * CURVE_Q + 1) - CURVE_Q  # e ∈ ±q


def _signed(rng: Rng, bound: int) -> int:
    return rng.randbelow(2 * bound + 1) - bound


def prove_fac(
    key: PaillierPrivateKey, rp: RingPedersenParams, ssid: bytes, prover: int, verifier: int, rng: Rng | None = None
) -> FacProof:
    rng = resolve_rng(rng)
    n0, nh, s, t = key.n, rp.n, rp.s, rp.t
    p, q = key.p, key.q
    sqrt_n0 = int(gmpy2.isqrt(n0)) + 1
    ab_bound = (1 << (FAC_ELL + FAC_EPS)) * sqrt_n0
    alpha, beta = _signed(rng, ab_bound), _signed(rng, ab_bound)
    mu, nu = _signed(rng, (1 << FAC_ELL) * nh), _signed(rng, (1 << FAC_ELL) * nh)
    sigma = _signed(rng, (1 << FAC_ELL) * n0 * nh)
    r = _signed(rng, (1 << (FAC_ELL + FAC_EPS)) * n0 * nh)
    x, y = _signed(rng, (1 << (FAC_ELL + FAC_EPS)) * nh), _signed(rng, (1 << (FAC_ELL + FAC_EPS)) * nh)

    def com(a: int, b: int) -> int:
        return powmod_secret(s, a, nh) * powmod_secret(t, b, nh) % nh

    big_p, big_q = com(p, mu), com(q, nu)
    big_a, big_b = com(alpha, x), com(beta, y)
    big_t = powmod_secret(big_q, alpha, nh) * powmod_secret(t, r, nh) % nh
    partial = FacProof(big_p, big_q, big_a, big_b, big_t, sigma, 0, 0, 0, 0, 0)
    e = _challenge(n0, rp, partial, ssid, prover, verifier)
    sigma_hat = sigma - nu * p
    return FacProof(
        big_p, big_q, big_a, big_b, big_t, sigma,
        alpha + e * p, beta + e * q, x + e * mu, y + e * nu, r + e * sigma_hat,
    )  # fmt: skip


def verify_fac(n0: int, rp: RingPedersenParams, pr: FacProof, ssid: bytes, prover: int, verifier: int) -> bool:
    """Verify against the verifier's own (Ñ, s, t) (P5)."""
    nh = rp.n
    for v in (pr.P, pr.Q, pr.A, pr.B, pr.T):
        if not 0 < v < nh or math.gcd(v, nh) != 1:
            return False
    bound = (1 << (FAC_ELL + FAC_EPS)) * (int(gmpy2.isqrt(n0)) + 1)
    if abs(pr.z1) > bound or abs(pr.z2) > bound:
        return False
    e = _challenge(n0, rp, pr, ssid, prover, verifier)
    m = gmpy2.mpz(nh)
    s, t = gmpy2.mpz(rp.s), gmpy2.mpz(rp.t)

    def pw(b: Any, x: int) -> Any:
        return gmpy2.powmod(b, x, m)

    if pw(s, pr.z1) * pw(t, pr.w1) % m != pr.A * pw(pr.P, e) % m:
        return False
    if pw(s, pr.z2) * pw(t, pr.w2) % m != pr.B * pw(pr.Q, e) % m:
        return False
    big_r = pw(s, n0) * pw(t, pr.sigma) % m
    return pw(pr.Q, pr.z1) * pw(t, pr.v) % m == pr.T * pw(big_r, e) % m
