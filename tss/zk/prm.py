"""Ring-Pedersen parameter proof Π^prm (CGGMP21, eprint 2021/060, §6.1 Fig. 17), both directions.

Statement: target = base^λ mod Ñ. Prover: a_i ← Z_φ(Ñ), A_i = base^{a_i}; challenge bits e_i from
the transcript; z_i = a_i + e_i·λ mod φ(Ñ). Verifier: base^{z_i} = A_i · target^{e_i}.

Soundness error 2^-`PRM_REPS` per direction. A one-way proof only shows target ∈ ⟨base⟩ (axelar tofn
PR #180), so `RingPedersenProof` carries two: s ∈ ⟨t⟩ (exponent λ) and t ∈ ⟨s⟩ (exponent λ^{-1}
mod P'Q') (SECURITY.md P4). The challenge is never widened into one big challenge (Z5), and the
verifier rejects vectors of any length other than `PRM_REPS` (Z4).
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Any

import gmpy2

from tss.ct import powmod_secret
from tss.errors import EncodingError
from tss.paillier.preparams import RingPedersenParams, RingPedersenSecret
from tss.rng import Rng, resolve_rng
from tss.zk.codec import dec_bits, dec_fixed_list, enc_fixed_list
from tss.zk.fixedbase import FixedBase
from tss.zk.transcript import Transcript

__all__ = ["PRM_REPS", "DlnProof", "RingPedersenProof", "prove_ring_pedersen", "verify_ring_pedersen"]

PRM_REPS = 128
"""Repetitions of the binary challenge: tss-lib and LFDT cggmp21 use 128 (SECURITY.md Z4)."""


@dataclass(frozen=True, slots=True)
class DlnProof:
    """One direction in compact Fiat-Shamir form: challenge bits e and responses z.

    The verifier recomputes A_i = base^{z_i} · target^{-e_i} and accepts iff hashing them gives e
    back; this is the same check as base^{z_i} = A_i · target^{e_i} with the A_i sent, at half the size.
    """

    e: list[int]
    z: list[int]

    def to_wire(self, n_bits: int) -> dict[str, Any]:
        return {"e": list(self.e), "z": enc_fixed_list(self.z, (n_bits + 7) // 8)}

    @classmethod
    def from_wire(cls, obj: Any, max_bits: int) -> DlnProof:
        if not isinstance(obj, dict) or set(obj) != {"e", "z"}:
            raise EncodingError("malformed DLN proof")
        return cls(dec_bits(obj.get("e"), PRM_REPS), dec_fixed_list(obj.get("z"), PRM_REPS, (max_bits + 7) // 8))


@dataclass(frozen=True, slots=True)
class RingPedersenProof:
    """Π^prm for s ∈ ⟨t⟩ (`s_in_t`) and for t ∈ ⟨s⟩ (`t_in_s`)."""

    s_in_t: DlnProof
    t_in_s: DlnProof

    def to_wire(self, n_bits: int) -> dict[str, Any]:
        return {"s_in_t": self.s_in_t.to_wire(n_bits), "t_in_s": self.t_in_s.to_wire(n_bits)}

    @classmethod
    def from_wire(cls, obj: Any, max_bits: int) -> RingPedersenProof:
        if not isinstance(obj, dict) or set(obj) != {"s_in_t", "t_in_s"}:
            raise EncodingError("ring-Pedersen proof needs both directions")
        return cls(DlnProof.from_wire(obj["s_in_t"], max_bits), DlnProof.from_wire(obj["t_in_s"], max_bits))


def _challenge(direction: str, n: int, base: int, target: int, a: list[int], ssid: bytes, prover: int) -> list[int]:
    tr = Transcript("zk/prm").bytes("ssid", ssid).int("prover", prover).bytes("direction", direction.encode())
    tr.int("N", n).int("base", base).int("target", target).ints("A", a)
    return tr.challenge_bits(PRM_REPS)


def _prove_one(
    direction: str, secret: RingPedersenSecret, base: int, target: int, exp: int, ssid: bytes, prover: int, rng: Rng
) -> DlnProof:
    n, phi, p, q = secret.n, secret.phi, secret.p, secret.q
    q_inv_p = int(gmpy2.invert(q, p))
    a_exp = [rng.randbelow(phi) for _ in range(PRM_REPS)]
    a = []
    for x in a_exp:  # CRT over the secret safe primes: two half-size secret exponentiations
        ap, aq = powmod_secret(base, x % (p - 1), p), powmod_secret(base, x % (q - 1), q)
        a.append(aq + q * ((ap - aq) * q_inv_p % p))
    e = _challenge(direction, n, base, target, a, ssid, prover)
    z = [(x + bit * exp) % phi for x, bit in zip(a_exp, e, strict=True)]
    return DlnProof(e, z)


def prove_ring_pedersen(
    secret: RingPedersenSecret, ssid: bytes, prover: int, rng: Rng | None = None
) -> RingPedersenProof:
    """Prove both s = t^λ and t = s^{λ^{-1}} for the owner's parameters."""
    rng = resolve_rng(rng)
    pub = secret.public
    return RingPedersenProof(
        _prove_one("s_in_t", secret, pub.t, pub.s, secret.lam, ssid, prover, rng),
        _prove_one("t_in_s", secret, pub.s, pub.t, secret.lam_inv, ssid, prover, rng),
    )


def _verify_one(direction: str, n: int, base: int, target: int, proof: DlnProof, ssid: bytes, prover: int) -> bool:
    if len(proof.e) != PRM_REPS or len(proof.z) != PRM_REPS or any(b not in (0, 1) for b in proof.e):
        return False
    if any(not 0 <= z < n for z in proof.z) or math.gcd(target, n) != 1:
        return False
    nm = gmpy2.mpz(n)
    target_inv = gmpy2.invert(gmpy2.mpz(target), nm)
    fb = FixedBase(base, n, n.bit_length())
    a = [int(fb.pow(z) * target_inv % nm) if bit else int(fb.pow(z)) for z, bit in zip(proof.z, proof.e, strict=True)]
    e = _challenge(direction, n, base, target, a, ssid, prover)
    return hmac.compare_digest(bytes(e), bytes(proof.e))


def verify_ring_pedersen(params: RingPedersenParams, proof: RingPedersenProof, ssid: bytes, prover: int) -> bool:
    """Check both directions; parameter sanity (P3/P4) is `tss.zk.params.check_ring_pedersen`."""
    return _verify_one("s_in_t", params.n, params.t, params.s, proof.s_in_t, ssid, prover) and _verify_one(
        "t_in_s", params.n, params.s, params.t, proof.t_in_s, ssid, prover
    )
