"""A party's Paillier + ring-Pedersen package ("auxiliary info") and its verification.

Used by keygen and by resharing for every new member (SECURITY.md R4). Order of checks: parse with
length caps (H7), cheap P3/P4 checks, cross-party uniqueness, then Π^mod and Π^prm (P1, P4); Π^fac is
exchanged one round later because it is proven under each verifier's own ring-Pedersen (P5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tss.errors import EncodingError, ProtocolError
from tss.paillier import PreParams, RingPedersenParams
from tss.rng import Rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.fac import FacProof, prove_fac, verify_fac
from tss.zk.mod import ModProof, prove_mod, verify_mod
from tss.zk.params import check_modulus, check_ring_pedersen, check_unique
from tss.zk.prm import RingPedersenProof, prove_ring_pedersen, verify_ring_pedersen

__all__ = ["AuxPackage", "make_aux", "make_fac", "verify_aux_set", "verify_fac_msg"]


@dataclass(frozen=True, slots=True)
class AuxPackage:
    n: int
    ring: RingPedersenParams
    mod: ModProof
    prm: RingPedersenProof


def make_aux(pre: PreParams, ssid: bytes, me: int, rng: Rng) -> dict[str, Any]:
    rp = pre.ring.public
    return {
        "N": enc_int(pre.paillier.n),
        "ring": [enc_int(rp.n), enc_int(rp.s), enc_int(rp.t)],
        "mod": prove_mod(pre.paillier, ssid, me, rng).to_wire(pre.bits),
        "prm": prove_ring_pedersen(pre.ring, ssid, me, rng).to_wire(pre.bits),
    }


def _parse(obj: dict[str, Any], sender: int, bits: int) -> AuxPackage:
    try:
        ring_vals = obj["ring"]
        if not isinstance(ring_vals, list) or len(ring_vals) != 3:
            raise EncodingError("ring parameters malformed")
        return AuxPackage(
            dec_int(obj["N"], bits),
            RingPedersenParams(*(dec_int(v, bits) for v in ring_vals)),
            ModProof.from_wire(obj["mod"], bits),
            RingPedersenProof.from_wire(obj["prm"], bits),
        )
    except (EncodingError, KeyError, TypeError):
        raise ProtocolError("malformed_payload", (sender,)) from None


def verify_aux_set(
    packages: dict[int, dict[str, Any]], own: PreParams, me: int, bits: int, ssid: bytes
) -> tuple[dict[int, int], dict[int, RingPedersenParams]]:
    """Verify every peer's package; return all Paillier N and ring parameters (own included)."""
    parsed = {j: _parse(obj, j, bits) for j, obj in sorted(packages.items())}
    for j, pkg in parsed.items():
        check_modulus(pkg.n, bits, j, "paillier")
        check_ring_pedersen(pkg.ring, bits, j)
    paillier = {me: own.paillier.n} | {j: p.n for j, p in parsed.items()}
    ring = {me: own.ring.public} | {j: p.ring for j, p in parsed.items()}
    check_unique(paillier, ring)
    for j, pkg in parsed.items():  # the expensive proofs last, once the cheap checks passed
        if not verify_mod(pkg.n, pkg.mod, ssid, j):
            raise ProtocolError("bad_mod_proof", (j,))
        if not verify_ring_pedersen(pkg.ring, pkg.prm, ssid, j):
            raise ProtocolError("bad_prm_proof", (j,))
    return paillier, ring


def make_fac(pre: PreParams, verifier_ring: RingPedersenParams, ssid: bytes, me: int, verifier: int, rng: Rng) -> dict:
    return {"fac": prove_fac(pre.paillier, verifier_ring, ssid, me, verifier, rng).to_wire()}


def verify_fac_msg(obj: dict[str, Any], n_j: int, own: PreParams, ssid: bytes, sender: int, me: int, bits: int) -> None:
    try:
        fac = FacProof.from_wire(obj.get("fac"), bits)
    except EncodingError:
        raise ProtocolError("malformed_payload", (sender,)) from None
    if not verify_fac(n_j, own.ring.public, fac, ssid, sender, me):
        raise ProtocolError("bad_fac_proof", (sender,))
