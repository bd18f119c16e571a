"""FROST aggregation and verification (RFC 9591 §5.3 aggregate, §5.4 verify_signature_share)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tss.errors import InvalidInputError, ProtocolError
from tss.frost.ciphersuite import Ciphersuite
from tss.frost.core import SigningContext, signing_context
from tss.frost.keys import PublicKeyPackage
from tss.frost.round1 import SigningCommitments
from tss.frost.round2 import SignatureShare
from tss.frost.taproot import TaprootTweak, key_transform
from tss.groups import Element


def _share_ok(
    suite: Ciphersuite, public: PublicKeyPackage, ctx: SigningContext, comm: SigningCommitments, z: int
) -> bool:
    """RFC 9591 §5.4: z_i·G == D_i + ρ_i·E_i + (c·λ_i)·PK_i (commitment share negated for odd R in TR)."""
    g = suite.group
    comm_share = g.add(comm.hiding, g.mul(comm.binding, ctx.binding_factors[comm.identifier]))
    if ctx.negate_nonces:
        comm_share = g.neg(comm_share)
    pk_i = ctx.transform.element(g, public.verifying_shares[comm.identifier])
    lam = ctx.lagrange(suite, comm.identifier)
    return g.base_mul(z) == g.add(comm_share, g.mul(pk_i, ctx.challenge * lam % g.order))


def verify_signature_share(
    suite: Ciphersuite,
    public: PublicKeyPackage,
    message: bytes,
    commitments: Sequence[SigningCommitments],
    share: SignatureShare,
    *,
    taproot: TaprootTweak | None = None,
) -> bool:
    """RFC 9591 §5.4 verify_signature_share for one signer."""
    ctx = signing_context(suite, public, message, commitments, taproot)
    comm = next((c for c in commitments if c.identifier == share.identifier), None)
    if comm is None:
        raise InvalidInputError("share from a signer outside the commitment list")
    return _share_ok(suite, public, ctx, comm, share.share)


def aggregate(
    suite: Ciphersuite,
    public: PublicKeyPackage,
    message: bytes,
    commitments: Sequence[SigningCommitments],
    shares: Sequence[SignatureShare] | Mapping[int, SignatureShare],
    *,
    taproot: TaprootTweak | None = None,
    verify_shares: bool = False,
) -> bytes:
    """RFC 9591 §5.3 aggregate, with the final signature verified before it is returned.

    If the signature does not verify (or always, with `verify_shares=True`), each share is checked
    and ``ProtocolError("invalid_signature_share", culprits=[...])`` names the bad signers.

    Returns:
        The encoded signature: Ed25519 R||z (64 bytes), secp256k1 SerializeElement(R)||z (65 bytes),
        secp256k1-tr BIP-340 x(R)||z (64 bytes).
    """
    ctx = signing_context(suite, public, message, commitments, taproot)
    by_id = dict(shares) if isinstance(shares, Mapping) else {}
    if not isinstance(shares, Mapping):
        for s in shares:
            if s.identifier in by_id:
                raise ProtocolError("duplicate_signature_share", culprits=[s.identifier])
            by_id[s.identifier] = s
    missing = [i for i in ctx.signers if i not in by_id]
    if missing:
        raise ProtocolError("missing_signature_share", culprits=missing)
    extra = [i for i in by_id if i not in ctx.signers]
    if extra:
        raise ProtocolError("unexpected_signature_share", culprits=extra)
    g = suite.group
    comm_by_id = {c.identifier: c for c in commitments}
    if verify_shares:
        _raise_bad_shares(suite, public, ctx, comm_by_id, by_id)
    z = sum(by_id[i].share for i in ctx.signers) % g.order
    signature = suite.serialize_signature(ctx.group_commitment, z)
    if not suite.verify(ctx.group_public_key, bytes(message), signature):
        _raise_bad_shares(suite, public, ctx, comm_by_id, by_id)
        raise ProtocolError("invalid_signature", detail="all shares verify but the signature does not")
    return signature


def _raise_bad_shares(
    suite: Ciphersuite,
    public: PublicKeyPackage,
    ctx: SigningContext,
    comms: dict[int, SigningCommitments],
    shares: dict[int, SignatureShare],
) -> None:
    bad = [i for i in ctx.signers if not _share_ok(suite, public, ctx, comms[i], shares[i].share % suite.group.order)]
    if bad:
        raise ProtocolError("invalid_signature_share", culprits=bad)


def verify(
    suite: Ciphersuite,
    public_key: Element | bytes,
    message: bytes,
    signature: bytes,
    *,
    taproot: TaprootTweak | None = None,
) -> bool:
    """Verify a final signature under the group key (RFC 9591 §6 / BIP-340 for secp256k1-tr).

    For secp256k1-tr with `taproot`, `public_key` is the internal (untweaked) group key and the
    signature is checked under the BIP-341 output key.
    """
    if taproot is not None:
        if not suite.is_taproot:
            raise InvalidInputError(f"{suite.name} has no taproot tweak")
        internal = suite.deserialize_public_key(public_key) if isinstance(public_key, bytes) else public_key
        public_key = key_transform(internal, taproot).element(suite.group, internal)
    return suite.verify(public_key, message, signature)


__all__ = ["aggregate", "verify", "verify_signature_share"]
