"""A plain Shamir sharing of a GG18/GG20 key: what a recovery from escrow deals (the *staged* shares).

A GG18/GG20 `KeyShare` also holds its holder's Paillier key and every peer's Paillier and ring-Pedersen
parameters with their proofs (SECURITY.md section 1): nobody but the holders themselves can make those. So the
operator's offline recovery (`mpc recover --from-escrow`) gives each new holder only a *staged* share: the
scalar x_i = f(i) of a fresh degree t'-1 polynomial f with f(0) the key, and everyone the public shares
X_i = x_i·G. A staged share never signs: the new committee then runs the reshare (`tss.ecdsa.reshare`, SECURITY.md
section 7) with t' of its members dealing from their staged shares (R1 checks each dealer's C_{j,0} against
λ_j·X_j of this package, R2 that the group key is unchanged), and every new holder ends with a complete
`KeyShare`: fresh Paillier and ring-Pedersen parameters with Π^mod, Π^prm and Π^fac verified by all (R4), and a
share of a new polynomial that the dealer never saw.

Serialisation (`StagedShare.to_bytes`): UTF-8 JSON, sorted keys, ``{"format", "party_id", "x" (secret),
"package"}``. The secret field is x; `repr` shows only public data (H6).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tss.ecdsa.curve import Point, Q, add, base_mul, mul, point_eq
from tss.ecdsa.poly import check_indices, eval_poly, random_poly
from tss.ecdsa.rounds import pt, pt_hex
from tss.errors import EncodingError, InvalidInputError
from tss.rng import Rng, SystemRng
from tss.zk.codec import dec_int, enc_int

__all__ = ["STAGING_FORMAT", "StagedShare", "StagingPackage", "deal_staged"]

STAGING_FORMAT = "mpc-signer/gg20-staged/v1"
"""Names the staged share and its package: neither is a `KeyShare` nor a key's public record."""


def _interpolate_at(x: int, points: Mapping[int, Point]) -> Point | None:
    """Σ λ_j(x)·P_j: the polynomial through `points` (in the exponent) evaluated at `x`."""
    ids = sorted(points)
    terms = []
    for j in ids:
        num, den = 1, 1
        for m in ids:
            if m != j:
                num = num * (x - m) % Q
                den = den * (j - m) % Q
        terms.append(mul(points[j], num * pow(den, -1, Q) % Q))
    return add(*terms)


@dataclass(frozen=True)
class StagingPackage:
    """The public side of a staged sharing: the group key, t', the new holders and every X_i."""

    group_key: Point
    threshold: int
    party_ids: tuple[int, ...]
    public_shares: dict[int, Point] = field(repr=False)
    epoch: int  # the epoch the recovery starts (the key's current epoch + 1)

    def validate(self) -> None:
        """Every X_i lies on one polynomial of degree t'-1 whose value at 0 is the group key (C3, C4, I1)."""
        ids = check_indices(list(self.party_ids))
        if list(self.party_ids) != ids or set(self.public_shares) != set(ids):
            raise InvalidInputError("the staged public shares are not those of the sorted party list")
        if not 2 <= self.threshold <= len(ids) or self.epoch < 0:
            raise InvalidInputError("staged threshold outside 2..n, or a negative epoch")
        base = {j: self.public_shares[j] for j in ids[: self.threshold]}
        if not point_eq(_interpolate_at(0, base), self.group_key):
            raise InvalidInputError("the staged public shares do not interpolate to the group key")
        for k in ids[self.threshold:]:
            if not point_eq(_interpolate_at(k, base), self.public_shares[k]):
                raise InvalidInputError(f"the staged public share of {k} is off the degree t'-1 polynomial")

    def to_dict(self) -> dict[str, Any]:
        key = pt_hex(self.group_key)
        return {"format": STAGING_FORMAT, "group_key": key, "group_public_key": key, "threshold": self.threshold,
                "party_ids": list(self.party_ids), "epoch": self.epoch,
                "public_shares": {str(k): pt_hex(v) for k, v in sorted(self.public_shares.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StagingPackage:
        """Parse and validate; raises `EncodingError` / `InvalidInputError`."""
        try:
            if data.get("format") != STAGING_FORMAT or data.get("group_key") != data.get("group_public_key"):
                raise EncodingError("not a staged sharing's package")
            threshold, epoch = data["threshold"], data["epoch"]
            ids = data["party_ids"]
            if any(not isinstance(v, int) or isinstance(v, bool) for v in (threshold, epoch, *ids)):
                raise EncodingError("threshold, epoch and party ids are integers")
            shares = data["public_shares"]
            if not isinstance(shares, Mapping) or len(shares) != len(ids):
                raise EncodingError("one public share per party")
            package = cls(pt(data["group_key"]), threshold, tuple(ids),
                          {int(k): pt(v) for k, v in shares.items()}, epoch)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EncodingError("malformed staged package") from exc
        package.validate()
        return package

    def reshare_source(self, key_epoch: int) -> dict[str, Any]:
        """The `old_public` of the reshare that turns the staged shares into key shares: this sharing stands in
        for the key's epoch `key_epoch`, so the reshare's shares are of `key_epoch + 1` (= `self.epoch`)."""
        if key_epoch + 1 != self.epoch:
            raise InvalidInputError("the staged sharing starts another epoch than the reshare makes")
        return {"protocol": "gg20", "group_key": pt_hex(self.group_key), "threshold": self.threshold,
                "party_ids": list(self.party_ids), "epoch": key_epoch,
                "public_shares": {str(k): pt_hex(v) for k, v in sorted(self.public_shares.items())}}


@dataclass(frozen=True)
class StagedShare:
    """One new holder's staged share: a dealer's input to the reshare, never a signing share."""

    party_id: int
    x: int = field(repr=False)
    package: StagingPackage = field(repr=False)

    def __repr__(self) -> str:
        return f"StagedShare(party={self.party_id}, t={self.package.threshold}, epoch={self.package.epoch})"

    __str__ = __repr__

    @property
    def group_key(self) -> Point:
        return self.package.group_key

    def check(self) -> None:
        """x_i·G = X_i of the (validated) package."""
        if self.party_id not in self.package.public_shares or not 0 < self.x < Q or \
                not point_eq(base_mul(self.x), self.package.public_shares[self.party_id]):
            raise InvalidInputError("the staged share does not match its public share")

    def to_bytes(self) -> bytes:
        return json.dumps({"format": STAGING_FORMAT, "party_id": self.party_id, "x": enc_int(self.x),
                           "package": self.package.to_dict()}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> StagedShare:
        try:
            obj = json.loads(data)
            if obj.get("format") != STAGING_FORMAT or not isinstance(obj["party_id"], int):
                raise EncodingError("not a staged share")
            share = cls(obj["party_id"], dec_int(obj["x"], 256), StagingPackage.from_dict(obj["package"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EncodingError("malformed staged share") from exc
        share.check()
        return share


def deal_staged(secret: int, threshold: int, party_ids: Sequence[int], epoch: int,
                rng: Rng | None = None) -> tuple[dict[int, StagedShare], StagingPackage]:
    """Shamir-share `secret` (degree t'-1, fresh coefficients) among `party_ids`: the trusted dealer of a
    recovery from escrow. The caller drops the secret and every share as soon as they are sealed."""
    ids = check_indices(list(party_ids))
    if not 2 <= threshold <= len(ids) or secret % Q == 0:
        raise InvalidInputError("threshold outside 2..n, or a zero secret")
    coeffs = random_poly(secret, threshold, rng or SystemRng())
    try:
        xs = {i: eval_poly(coeffs, i) for i in ids}
    finally:
        coeffs[:] = [0] * len(coeffs)
    publics: dict[int, Point] = {}
    for i, x in xs.items():
        point = base_mul(x)
        if point is None:  # f(i) = 0 happens with probability ~n/q; a share must not be zero
            raise InvalidInputError("a staged share came out zero; deal again")
        publics[i] = point
    group_key = base_mul(secret % Q)
    assert group_key is not None
    package = StagingPackage(group_key, threshold, tuple(ids), publics, epoch)
    package.validate()
    return {i: StagedShare(i, x, package) for i, x in xs.items()}, package
