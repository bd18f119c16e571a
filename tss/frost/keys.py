"""Key material: the public key package, a participant's key share, and the trusted dealer.

Secret-handling rules (SECURITY.md H5, H6): `KeyShare` holds a secret scalar; its repr never shows
it, and its byte form is meant to be sealed by the node keystore before it touches a disk.
Iterate participants in identifier order (RFC 9591 §5.2 sorts everything by identifier).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tss.errors import EncodingError, InvalidInputError
from tss.frost.ciphersuite import Ciphersuite, get_ciphersuite
from tss.groups import Element
from tss.rng import Rng
from tss.shamir import (
    commit_polynomial,
    evaluate_polynomial,
    interpolate_elements,
    lagrange_coefficient,
    random_polynomial,
    validate_identifiers,
    validate_threshold,
)

FORMAT_VERSION = 1
HD_SUITES = ("secp256k1", "secp256k1-tr")
"""Suites whose keys have BIP-32 children (the additive tweak of `tss.hd`)."""


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _load_json(data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodingError("malformed key encoding") from exc
    if not isinstance(obj, dict) or obj.get("version") != FORMAT_VERSION:
        raise EncodingError("unsupported key encoding version")
    return obj


def _hex(data: str) -> bytes:
    try:
        return bytes.fromhex(data)
    except (TypeError, ValueError) as exc:
        raise EncodingError("malformed hex field") from exc


@dataclass(frozen=True, eq=True)
class PublicKeyPackage:
    """Public outcome of key generation (RFC 9591 §5 group public key + verifying shares).

    Attributes:
        suite: ciphersuite name.
        group_public_key: PK = s·G (for secp256k1-tr: the internal, untweaked key, any y parity).
        verifying_shares: {identifier: s_i·G} for every participant.
        threshold: t, the minimum number of signers.
        epoch: share version; refresh and reshare increment it (SECURITY.md R5).
    """

    suite: str
    group_public_key: Element
    verifying_shares: dict[int, Element] = field(hash=False)
    threshold: int
    epoch: int = 0

    @property
    def ciphersuite(self) -> Ciphersuite:
        return get_ciphersuite(self.suite)

    @property
    def participants(self) -> list[int]:
        return sorted(self.verifying_shares)

    def validate(self) -> None:
        """Check ids, threshold, non-identity points, and that all verifying shares lie on one
        polynomial of degree t-1 whose value at 0 is the group key."""
        g = self.ciphersuite.group
        ids = validate_identifiers(g, self.verifying_shares)
        validate_threshold(self.threshold, len(ids))
        if g.is_identity(self.group_public_key) or any(g.is_identity(x) for x in self.verifying_shares.values()):
            raise InvalidInputError("identity element in public key package")
        base = ids[: self.threshold]
        subset = {i: self.verifying_shares[i] for i in base}
        if interpolate_elements(g, subset) != self.group_public_key:
            raise InvalidInputError("verifying shares do not interpolate to the group key")
        for x in ids[self.threshold :]:  # every further share lies on the same degree t-1 polynomial
            lam = ((lagrange_coefficient(g, base, i, at=x), p) for i, p in subset.items())
            if g.lincomb(lam) != self.verifying_shares[x]:
                raise InvalidInputError("verifying shares are not of one degree t-1 polynomial")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (hex strings, identifiers as decimal string keys)."""
        g = self.ciphersuite.group
        return {
            "version": FORMAT_VERSION,
            "suite": self.suite,
            "group_public_key": g.serialize_element(self.group_public_key).hex(),
            "verifying_shares": {
                str(i): g.serialize_element(x).hex() for i, x in sorted(self.verifying_shares.items())
            },
            "threshold": self.threshold,
            "epoch": self.epoch,
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any], *, check_consistency: bool = True) -> PublicKeyPackage:
        """Parse `to_dict` output; points are always fully decoded and validated.

        `check_consistency=False` skips only the polynomial-consistency check of `validate` (for
        state this code wrote itself and validated when the session started).
        """
        try:
            suite = get_ciphersuite(obj["suite"])
            g = suite.group
            shares = {int(i): g.deserialize_element(_hex(x)) for i, x in obj["verifying_shares"].items()}
            pkg = cls(
                suite=suite.name,
                group_public_key=g.deserialize_element(_hex(obj["group_public_key"])),
                verifying_shares=shares,
                threshold=int(obj["threshold"]),
                epoch=int(obj.get("epoch", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, EncodingError):
                raise
            raise EncodingError("malformed public key package") from exc
        if check_consistency:
            pkg.validate()
        return pkg

    def to_bytes(self) -> bytes:
        return _canonical_json(self.to_dict())

    def with_tweak(self, tweak: int) -> PublicKeyPackage:
        """The package of the key s + tweak (a BIP-32 child, `tss.hd`): every point moves by tweak·G.

        Only for secp256k1 suites: BIP-32 defines no non-hardened Ed25519 derivation."""
        g = self.ciphersuite.group
        offset = tweak % g.order
        if offset == 0:
            return self
        if self.suite not in HD_SUITES:
            raise InvalidInputError(f"no BIP-32 derivation for {self.suite} keys")
        delta = g.base_mul(offset)
        moved = PublicKeyPackage(self.suite, g.add(self.group_public_key, delta),
                                 {i: g.add(x, delta) for i, x in self.verifying_shares.items()}, self.threshold,
                                 self.epoch)
        if g.is_identity(moved.group_public_key) or any(g.is_identity(x) for x in moved.verifying_shares.values()):
            raise InvalidInputError("the derived key is the identity")
        return moved

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKeyPackage:
        return cls.from_dict(_load_json(data))


@dataclass(frozen=True, eq=True)
class KeyShare:
    """One participant's secret signing share s_i with the public package it belongs to.

    The secret never appears in repr/str (SECURITY.md H6).
    """

    identifier: int
    signing_share: int
    public: PublicKeyPackage

    def __post_init__(self) -> None:
        if self.identifier not in self.public.verifying_shares:
            raise InvalidInputError("key share identifier is not a participant of its package")

    @property
    def suite(self) -> str:
        return self.public.suite

    @property
    def verifying_share(self) -> Element:
        return self.public.verifying_shares[self.identifier]

    @property
    def group_public_key(self) -> Element:
        return self.public.group_public_key

    @property
    def threshold(self) -> int:
        return self.public.threshold

    def check(self) -> None:
        """s_i·G must equal the published verifying share."""
        g = self.public.ciphersuite.group
        if not 0 < self.signing_share < g.order or g.base_mul(self.signing_share) != self.verifying_share:
            raise InvalidInputError("signing share does not match its verifying share")

    def with_tweak(self, tweak: int) -> KeyShare:
        """This holder's share of the key s + tweak: s_i + tweak is a Shamir share of it, since the
        Lagrange coefficients of any signer set sum to 1 (a BIP-32 child, `tss.hd`)."""
        public = self.public.with_tweak(tweak)
        if public is self.public:
            return self
        order = self.public.ciphersuite.group.order
        share = KeyShare(self.identifier, (self.signing_share + tweak) % order, public)
        share.check()
        return share

    def to_bytes(self) -> bytes:
        """Secret serialisation (seal it at rest)."""
        g = self.public.ciphersuite.group
        return _canonical_json(
            {
                "version": FORMAT_VERSION,
                "identifier": self.identifier,
                "signing_share": g.serialize_scalar(self.signing_share).hex(),
                "public": self.public.to_dict(),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyShare:
        obj = _load_json(data)
        try:
            public = PublicKeyPackage.from_dict(obj["public"])
            g = public.ciphersuite.group
            share = cls(int(obj["identifier"]), g.deserialize_scalar(_hex(obj["signing_share"])), public)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, EncodingError | InvalidInputError):
                raise
            raise EncodingError("malformed key share") from exc
        share.check()
        return share

    def __repr__(self) -> str:
        return f"KeyShare(suite={self.suite}, identifier={self.identifier}, signing_share=<redacted>)"

    __str__ = __repr__


def keys_from_coefficients(
    suite: Ciphersuite, coefficients: Sequence[int], identifiers: Sequence[int]
) -> tuple[dict[int, KeyShare], PublicKeyPackage]:
    """Shares of f(x) = Σ a_k x^k for `identifiers` (RFC 9591 Appendix C.1 secret_share_shard)."""
    g = suite.group
    ids = validate_identifiers(g, identifiers)
    t = len(coefficients)
    validate_threshold(t, len(ids))
    if coefficients[0] % g.order == 0:
        raise InvalidInputError("group secret must be non-zero")
    shares = {i: evaluate_polynomial(g, coefficients, i) for i in ids}
    public = PublicKeyPackage(
        suite=suite.name,
        group_public_key=commit_polynomial(g, coefficients[:1])[0],
        verifying_shares={i: g.base_mul(s) for i, s in shares.items()},
        threshold=t,
    )
    return {i: KeyShare(i, s, public) for i, s in shares.items()}, public


def trusted_dealer_keygen(
    suite: Ciphersuite,
    threshold: int,
    identifiers: Sequence[int],
    *,
    secret: int | None = None,
    rng: Rng | None = None,
) -> tuple[dict[int, KeyShare], PublicKeyPackage]:
    """RFC 9591 Appendix C trusted_dealer_keygen (also key import when `secret` is given).

    The dealer learns the whole key: use it for import and tests; production keys come from the DKG.
    """
    g = suite.group
    if secret is None:
        secret = g.random_nonzero_scalar(rng)
    coefficients = random_polynomial(g, secret, threshold, rng)
    return keys_from_coefficients(suite, coefficients, identifiers)


__all__ = ["KeyShare", "PublicKeyPackage", "keys_from_coefficients", "trusted_dealer_keygen"]
