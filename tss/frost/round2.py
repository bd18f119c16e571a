"""FROST round two: a signer's signature share (RFC 9591 §5.2 sign)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tss.errors import EncodingError, InvalidInputError
from tss.frost.ciphersuite import Ciphersuite
from tss.frost.core import signing_context
from tss.frost.keys import KeyShare
from tss.frost.round1 import SigningCommitments, SigningNonces
from tss.frost.taproot import TaprootTweak


@dataclass(frozen=True, slots=True)
class SignatureShare:
    """z_i of one signer (public once sent)."""

    identifier: int
    share: int

    def to_bytes(self, suite: Ciphersuite) -> bytes:
        """SerializeScalar(id) || SerializeScalar(z_i)."""
        g = suite.group
        return g.serialize_scalar(self.identifier) + g.serialize_scalar(self.share)

    @classmethod
    def from_bytes(cls, suite: Ciphersuite, data: bytes) -> SignatureShare:
        g = suite.group
        if len(data) != 2 * g.scalar_len:
            raise EncodingError("signature share has the wrong length")
        identifier = g.deserialize_scalar(data[: g.scalar_len])
        if identifier == 0:
            raise EncodingError("identifier zero")
        return cls(identifier, g.deserialize_scalar(data[g.scalar_len :]))


def sign(
    suite: Ciphersuite,
    key_share: KeyShare,
    nonces: SigningNonces,
    message: bytes,
    commitments: Sequence[SigningCommitments],
    *,
    taproot: TaprootTweak | None = None,
) -> SignatureShare:
    """RFC 9591 §5.2 sign.

    Validates the commitment list (SECURITY.md I4) and derives R and c before touching the nonce;
    then consumes the nonce (second use raises NonceReuseError) and returns
    z_i = d_i + e_i·ρ_i + λ_i·s_i·c.

    For secp256k1-tr, `taproot` selects a BIP-341 key-path tweak (None: plain BIP-340 under the
    internal key); the even-y rules of `tss.frost.taproot` are applied.
    """
    if key_share.suite != suite.name or nonces.suite != suite.name:
        raise InvalidInputError("key share or nonces belong to another ciphersuite")
    if nonces.identifier != key_share.identifier:
        raise InvalidInputError("nonces were generated for another participant")
    ctx = signing_context(suite, key_share.public, message, commitments, taproot, own=nonces.commitments)
    q = suite.group.order
    lam = ctx.lagrange(suite, key_share.identifier)
    secret = ctx.transform.scalar(key_share.signing_share, q)
    d, e = nonces.consume()
    if ctx.negate_nonces:
        d, e = q - d, q - e
    z = (d + e * ctx.binding_factors[key_share.identifier] + lam * secret * ctx.challenge) % q
    return SignatureShare(key_share.identifier, z)


__all__ = ["SignatureShare", "sign"]
