"""Paillier-Blum modulus proof Π^mod (CGGMP21, eprint 2021/060, §6.3 Fig. 16).

Proves N = p·q with p ≡ q ≡ 3 (mod 4) and gcd(N, φ(N)) = 1 (SECURITY.md P1, BitForge). Prover sends
w with Jacobi(w, N) = -1; for challenges y_i ∈ Z*_N (from the transcript) it sends
x_i = ((-1)^{a_i} w^{b_i} y_i)^{1/4} and z_i = y_i^{N^{-1} mod φ(N)}. Verifier checks N odd and not
prime, x_i^4 = (-1)^{a_i} w^{b_i} y_i and z_i^N = y_i (mod N).

Each repetition has soundness error 1/2; `MOD_REPS` = 128 (SECURITY.md Z4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gmpy2

from tss.ct import powmod_secret
from tss.errors import EncodingError
from tss.paillier.keys import PaillierPrivateKey
from tss.rng import Rng, resolve_rng
from tss.zk.codec import dec_bits, dec_fixed_list, dec_int, enc_fixed_list, enc_int
from tss.zk.transcript import Transcript

__all__ = ["MOD_REPS", "ModProof", "prove_mod", "verify_mod"]

MOD_REPS = 128
"""Repetitions (binary soundness per repetition; SECURITY.md "Numbers to use")."""


@dataclass(frozen=True, slots=True)
class ModProof:
    w: int
    x: list[int]
    a: list[int]
    b: list[int]
    z: list[int]

    def to_wire(self, n_bits: int) -> dict[str, Any]:
        """Wire form for an N of `n_bits` bits (x and z as fixed-width base64 vectors)."""
        nbytes = (n_bits + 7) // 8
        return {
            "w": enc_int(self.w),
            "x": enc_fixed_list(self.x, nbytes),
            "a": list(self.a),
            "b": list(self.b),
            "z": enc_fixed_list(self.z, nbytes),
        }

    @classmethod
    def from_wire(cls, obj: Any, max_bits: int) -> ModProof:
        if not isinstance(obj, dict):
            raise EncodingError("malformed Π^mod proof")
        nbytes = (max_bits + 7) // 8
        return cls(
            dec_int(obj.get("w"), max_bits),
            dec_fixed_list(obj.get("x"), MOD_REPS, nbytes),
            dec_bits(obj.get("a"), MOD_REPS),
            dec_bits(obj.get("b"), MOD_REPS),
            dec_fixed_list(obj.get("z"), MOD_REPS, nbytes),
        )


def _challenges(n: int, w: int, ssid: bytes, prover: int) -> list[int]:
    tr = Transcript("zk/mod").bytes("ssid", ssid).int("prover", prover).int("N", n).int("w", w)
    return tr.challenge_units(n, MOD_REPS)


def _is_qr(v: int, p: int) -> bool:
    """Euler's criterion with the secret prime as modulus (powmod_sec, H2)."""
    return powmod_secret(v, (p - 1) // 2, p) == 1


def _sym(is_qr: bool) -> int:
    return 1 if is_qr else -1


def _crt(rp: int, rq: int, p: int, q: int, q_inv_p: int) -> int:
    return rq + q * ((rp - rq) * q_inv_p % p)


def prove_mod(key: PaillierPrivateKey, ssid: bytes, prover: int, rng: Rng | None = None) -> ModProof:
    rng = resolve_rng(rng)
    p, q, n = key.p, key.q, key.n
    while True:
        w = rng.randbelow(n)
        if w > 1 and gmpy2.jacobi(w, n) == -1:
            break
    ys = _challenges(n, w, ssid, prover)
    q_inv_p = int(gmpy2.invert(q, p))
    # Fourth root of a QR v mod p ≡ 3 (mod 4): v^{((p+1)/4)^2}, which is again a QR.
    ep = ((p + 1) // 4) ** 2 % (p - 1)
    eq = ((q + 1) // 4) ** 2 % (q - 1)
    n_inv_p, n_inv_q = int(gmpy2.invert(n, p - 1)), int(gmpy2.invert(n, q - 1))
    w_sp, w_sq = _sym(_is_qr(w, p)), _sym(_is_qr(w, q))
    xs, a_bits, b_bits, zs = [], [], [], []
    for y in ys:
        y_sp, y_sq = _sym(_is_qr(y, p)), _sym(_is_qr(y, q))
        # -1 is a non-residue mod both primes; pick (a, b) making (-1)^a w^b y a QR mod p and q.
        for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
            if (-1) ** a * w_sp**b * y_sp == 1 and (-1) ** a * w_sq**b * y_sq == 1:
                break
        v = (-1) ** a * pow(w, b, n) * y % n
        x = _crt(powmod_secret(v, ep, p), powmod_secret(v, eq, q), p, q, q_inv_p)
        z = _crt(powmod_secret(y, n_inv_p, p), powmod_secret(y, n_inv_q, q), p, q, q_inv_p)
        xs.append(x)
        a_bits.append(a)
        b_bits.append(b)
        zs.append(z)
    return ModProof(w, xs, a_bits, b_bits, zs)


def verify_mod(n: int, proof: ModProof, ssid: bytes, prover: int) -> bool:
    if n % 2 == 0 or gmpy2.is_prime(n, 25):
        return False
    if not (len(proof.x) == len(proof.a) == len(proof.b) == len(proof.z) == MOD_REPS):
        return False
    if not 0 < proof.w < n or gmpy2.jacobi(proof.w, n) != -1:
        return False
    ys = _challenges(n, proof.w, ssid, prover)
    nm = gmpy2.mpz(n)
    for y, x, a, b, z in zip(ys, proof.x, proof.a, proof.b, proof.z, strict=True):
        if not (0 < x < n and 0 < z < n) or math.gcd(x, n) != 1:
            return False
        if gmpy2.powmod(z, nm, nm) != y:
            return False
        rhs = y * (proof.w if b else 1) % n
        if a:
            rhs = (n - rhs) % n
        if gmpy2.powmod(x, 4, nm) != rhs:
            return False
    return True
