"""Shared FROST helpers (RFC 9591 §4): commitment-list checks, binding factors, group commitment.

Used by both signers (round two) and the aggregator; everything here handles public data only.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.frost.ciphersuite import Ciphersuite
from tss.frost.keys import PublicKeyPackage
from tss.frost.round1 import SigningCommitments
from tss.frost.taproot import IDENTITY_TRANSFORM, KeyTransform, TaprootTweak, key_transform
from tss.groups import Element
from tss.shamir import lagrange_coefficient


def validate_commitment_list(
    suite: Ciphersuite,
    public: PublicKeyPackage,
    commitments: Sequence[SigningCommitments],
    *,
    own: SigningCommitments | None = None,
) -> list[int]:
    """RFC 9591 §5.2 input validation and SECURITY.md I4; returns the signer identifiers.

    Checks: list length in [MIN_PARTICIPANTS, MAX_PARTICIPANTS], strictly increasing identifiers
    (sorted, no duplicates), every identifier a participant of the key, no identity commitment,
    and (for a signer) its own entry present and equal to what it sent.
    """
    if public.suite != suite.name:
        raise InvalidInputError("public key package belongs to another ciphersuite")
    if not isinstance(commitments, Sequence) or not all(isinstance(c, SigningCommitments) for c in commitments):
        raise ProtocolError("malformed_commitment_list")
    n = len(public.verifying_shares)
    if not public.threshold <= len(commitments) <= n:
        raise ProtocolError("commitment_list_size", detail=f"{len(commitments)} not in [{public.threshold}, {n}]")
    ids = [c.identifier for c in commitments]
    for a, b in itertools.pairwise(ids):
        if a == b:
            raise ProtocolError("commitment_list_duplicate", detail=f"identifier {a}")
        if a > b:
            raise ProtocolError("commitment_list_unsorted")
    unknown = [i for i in ids if i not in public.verifying_shares]
    if unknown:
        raise ProtocolError("unknown_signer", detail=f"identifiers {unknown}")
    g = suite.group
    bad = [c.identifier for c in commitments if g.is_identity(c.hiding) or g.is_identity(c.binding)]
    if bad:
        raise ProtocolError("identity_commitment", culprits=bad)
    for c in commitments:  # objects may not come from `from_bytes`: re-run DeserializeElement (I3)
        try:
            g.deserialize_element(c.hiding.data)
            g.deserialize_element(c.binding.data)
        except EncodingError:
            raise ProtocolError("invalid_commitment_encoding", culprits=[c.identifier]) from None
    if own is not None:
        mine = [c for c in commitments if c.identifier == own.identifier]
        if not mine:
            raise ProtocolError("own_commitment_missing")
        if mine[0] != own:
            raise ProtocolError("own_commitment_mismatch")
    return ids


def encode_group_commitment_list(suite: Ciphersuite, commitments: Sequence[SigningCommitments]) -> bytes:
    """RFC 9591 §4.3 encode_group_commitment_list."""
    return b"".join(c.to_bytes(suite) for c in commitments)


def compute_binding_factors(
    suite: Ciphersuite, group_public_key: Element, commitments: Sequence[SigningCommitments], message: bytes
) -> dict[int, int]:
    """RFC 9591 §4.4 compute_binding_factors: {identifier: H1(prefix || SerializeScalar(id))}."""
    g = suite.group
    prefix = (
        g.serialize_element(group_public_key)
        + suite.H4(message)
        + suite.H5(encode_group_commitment_list(suite, commitments))
    )
    return {c.identifier: suite.H1(prefix + g.serialize_scalar(c.identifier)) for c in commitments}


def compute_group_commitment(
    suite: Ciphersuite, commitments: Sequence[SigningCommitments], binding_factors: dict[int, int]
) -> Element:
    """RFC 9591 §4.5 compute_group_commitment: Σ D_i + ρ_i·E_i."""
    g = suite.group
    return g.sum(g.add(c.hiding, g.mul(c.binding, binding_factors[c.identifier])) for c in commitments)


@dataclass(frozen=True, slots=True)
class SigningContext:
    """Everything public a signer and the aggregator derive from (key, list, message)."""

    transform: KeyTransform
    group_public_key: Element
    binding_factors: dict[int, int]
    group_commitment: Element
    challenge: int
    signers: list[int]
    negate_nonces: bool

    def lagrange(self, suite: Ciphersuite, identifier: int) -> int:
        return lagrange_coefficient(suite.group, self.signers, identifier)


def signing_context(
    suite: Ciphersuite,
    public: PublicKeyPackage,
    message: bytes,
    commitments: Sequence[SigningCommitments],
    taproot: TaprootTweak | None,
    *,
    own: SigningCommitments | None = None,
) -> SigningContext:
    """Validate the list, then compute ρ_i, R and c (aborting on an identity R, RFC 9591 §5.2)."""
    if not isinstance(message, bytes | bytearray):
        raise InvalidInputError("message must be bytes")
    message = bytes(message)
    signers = validate_commitment_list(suite, public, commitments, own=own)
    if suite.is_taproot:
        transform = key_transform(public.group_public_key, taproot)
    elif taproot is not None:
        raise InvalidInputError(f"{suite.name} has no taproot tweak")
    else:
        transform = IDENTITY_TRANSFORM
    g = suite.group
    group_key = transform.element(g, public.group_public_key)
    rho = compute_binding_factors(suite, group_key, commitments, message)
    r = compute_group_commitment(suite, commitments, rho)
    if g.is_identity(r):
        raise ProtocolError("identity_group_commitment")
    negate = suite.is_taproot and not g.has_even_y(r)  # type: ignore[attr-defined]
    c = suite.challenge(r, group_key, message)
    return SigningContext(transform, group_key, rho, r, c, signers, negate)


__all__ = [
    "SigningContext",
    "compute_binding_factors",
    "compute_group_commitment",
    "encode_group_commitment_list",
    "signing_context",
    "validate_commitment_list",
]
