"""Pedersen DKG building blocks: Feldman commitments with a Schnorr proof of knowledge of a_{i,0}.

FROST keygen (Komlo-Goldberg, eprint 2020/852, Figure 1) as RFC 9591 Appendix C / ZcashFoundation
frost `keys::dkg` realise it: σ_i = (R_i, μ_i) with R_i = k·G, c_i = HDKG(i || C_{i,0} || R_i || ssid),
μ_i = k + a_{i,0}·c_i. The preimage is ZcashFoundation's with the session id appended (all earlier
fields are fixed-length, so the encoding stays injective); with an empty ssid the proofs of their
published DKG vectors verify. The proof binds the sender id and the session (SECURITY.md C2, Z1).
"""

from __future__ import annotations

from dataclasses import dataclass

from tss.errors import EncodingError
from tss.frost.ciphersuite import Ciphersuite
from tss.groups import Element
from tss.rng import Rng


@dataclass(frozen=True, slots=True)
class ProofOfKnowledge:
    """Schnorr proof (R, μ) of knowledge of the discrete log of C_{i,0}."""

    r: Element
    mu: int

    def to_bytes(self, suite: Ciphersuite) -> bytes:
        return suite.group.serialize_element(self.r) + suite.group.serialize_scalar(self.mu)

    @classmethod
    def from_bytes(cls, suite: Ciphersuite, data: bytes) -> ProofOfKnowledge:
        g = suite.group
        if len(data) != g.element_len + g.scalar_len:
            raise EncodingError("proof of knowledge has the wrong length")
        return cls(g.deserialize_element(data[: g.element_len]), g.deserialize_scalar(data[g.element_len :]))


def pok_challenge(suite: Ciphersuite, identifier: int, c0: Element, r: Element, ssid: bytes) -> int:
    """c = HDKG(SerializeScalar(i) || SerializeElement(C_{i,0}) || SerializeElement(R) || ssid)."""
    g = suite.group
    return suite.HDKG(g.serialize_scalar(identifier) + g.serialize_element(c0) + g.serialize_element(r) + ssid)


def prove_knowledge(
    suite: Ciphersuite, identifier: int, a0: int, c0: Element, ssid: bytes, rng: Rng | None = None
) -> ProofOfKnowledge:
    """Round 1 step 2 of FROST keygen."""
    g = suite.group
    k = g.random_nonzero_scalar(rng)
    r = g.base_mul(k)
    c = pok_challenge(suite, identifier, c0, r, ssid)
    return ProofOfKnowledge(r, (k + a0 * c) % g.order)


def verify_knowledge(suite: Ciphersuite, identifier: int, c0: Element, proof: ProofOfKnowledge, ssid: bytes) -> bool:
    """Round 1 step 5: R == μ·G - c·C_{i,0}."""
    g = suite.group
    c = pok_challenge(suite, identifier, c0, proof.r, ssid)
    return proof.r == g.sub(g.base_mul(proof.mu), g.mul(c0, c))


__all__ = ["ProofOfKnowledge", "pok_challenge", "prove_knowledge", "verify_knowledge"]
