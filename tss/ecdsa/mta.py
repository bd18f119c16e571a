"""Multiplicative-to-additive share conversion with range proofs (GG18 eprint 2019/114 §3, App. A).

Only the proof-carrying MtA exists (SECURITY.md M1). Alice (holding a) sends c_A = Enc_A(a) with a
range proof under Bob's ring-Pedersen parameters; Bob (holding b) replies
c_B = c_A^b · Enc_A(β') with β' uniform in [0, q⁵) and fresh randomness (M2), plus his proof under
Alice's parameters (with the b·G check for MtAwc, against a point Alice computes herself, M3).
Alice gets α = a·b + β' (no wrap-around: a < q, b ≤ q³, β' ≤ q⁷ ≪ N) and Bob β = -β' mod q.
"""

from __future__ import annotations

from dataclasses import dataclass

from tss.ecdsa.curve import Point, Q
from tss.errors import EncodingError, ProtocolError
from tss.paillier import PaillierPrivateKey, PaillierPublicKey, RingPedersenParams
from tss.rng import Rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.mta import Q5, Q7, BobProof, prove_bob, verify_bob

__all__ = ["ALPHA_BOUND", "BETA_PRIME_BOUND", "MtaReply", "alice_finish", "bob_respond"]

BETA_PRIME_BOUND = Q5
"""Bob's mask β' ∈ [0, q⁵) (tss-lib; Milagro's 256-bit mask leaked the share, SECURITY.md M2)."""

ALPHA_BOUND = 2 * Q7
"""Decrypted α must be below q·q³ + q⁷ (what Bob's proven bounds allow); larger means cheating (P6)."""


@dataclass(frozen=True, slots=True)
class MtaReply:
    c: int
    proof: BobProof

    def to_wire(self) -> dict[str, object]:
        return {"c": enc_int(self.c), "proof": self.proof.to_wire()}

    @classmethod
    def from_wire(cls, obj: object, n_bits: int, *, with_check: bool) -> MtaReply:
        if not isinstance(obj, dict):
            raise EncodingError("malformed MtA reply")
        return cls(
            dec_int(obj.get("c"), 2 * n_bits), BobProof.from_wire(obj.get("proof"), n_bits, with_check=with_check)
        )


def bob_respond(
    alice_pk: PaillierPublicKey,
    alice_rp: RingPedersenParams,
    c_a: int,
    b: int,
    *,
    ssid: bytes,
    bob: int,
    alice: int,
    with_check: bool,
    rng: Rng,
) -> tuple[MtaReply, int]:
    """Bob's step; returns (reply for Alice, β = -β' mod q). `c_a` must already be verified."""
    beta_prime = rng.randbelow(BETA_PRIME_BOUND)
    c_mask, r = alice_pk.encrypt(beta_prime, rng)
    c_b = alice_pk.add(alice_pk.mul(c_a, b), c_mask)
    proof = prove_bob(alice_pk, alice_rp, c_a, c_b, b, beta_prime, r, ssid, bob, alice, with_check=with_check, rng=rng)
    return MtaReply(c_b, proof), (-beta_prime) % Q


def alice_finish(
    key: PaillierPrivateKey,
    own_rp: RingPedersenParams,
    c_a: int,
    reply: MtaReply,
    *,
    ssid: bytes,
    bob: int,
    alice: int,
    big_x: Point | None,
) -> int:
    """Alice's step: validate the ciphertext (P6), verify Bob's proof (MtAwc if `big_x`), decrypt, range-check.

    Returns α mod q. Raises `ProtocolError` naming Bob.
    """
    pk = key.public
    pk.validate_ciphertext(reply.c, sender=bob)
    if not verify_bob(pk, own_rp, c_a, reply.c, reply.proof, ssid, bob, alice, big_x=big_x):
        raise ProtocolError("bad_mta_proof" if big_x is None else "bad_mtawc_proof", (bob,))
    alpha = key.decrypt(reply.c)
    if alpha >= ALPHA_BOUND:
        raise ProtocolError("mta_out_of_range", (bob,))
    return alpha % Q
