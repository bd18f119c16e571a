"""A party's GG18/GG20 key share and its serialisation.

The share is the *verified state* later protocols rely on (SECURITY.md Z8): peers' Paillier keys and
ring-Pedersen parameters in it passed Π^mod, Π^fac, Π^prm and the P3/P4 checks at keygen or reshare,
so signing looks them up here instead of trusting a flag.

Serialisation (`to_bytes` / `from_bytes`): UTF-8 JSON, sorted keys::

    {"v": 1, "protocol": "gg20", "ssid": hex, "epoch": int, "threshold": t, "party_id": i,
     "party_ids": [...], "x": hex (secret), "X": {pid: 33-byte point hex}, "Y": point hex,
     "paillier_p": hex (secret), "paillier_q": hex (secret), "N": {pid: hex},
     "ring": {pid: [Ñ hex, s hex, t hex]}, "bits": 2048}

Secret fields: x, paillier_p, paillier_q. The node stores these bytes AEAD-sealed (H5); `repr` shows
only public data (H6).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from tss.ecdsa.curve import Point, Q, add, base_mul, encode_point, mul, point_eq
from tss.ecdsa.poly import check_indices, lagrange
from tss.ecdsa.rounds import pt, pt_hex
from tss.errors import EncodingError, InvalidInputError
from tss.paillier import PaillierPrivateKey, PaillierPublicKey, RingPedersenParams
from tss.zk.codec import dec_int, enc_int

__all__ = ["KeyShare"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class KeyShare:
    ssid: bytes
    epoch: int
    threshold: int
    party_id: int
    party_ids: tuple[int, ...]
    x: int = field(repr=False)
    public_shares: dict[int, Point] = field(repr=False)
    group_key: Point = field(repr=False)
    paillier: PaillierPrivateKey = field(repr=False)
    paillier_keys: dict[int, PaillierPublicKey] = field(repr=False)
    ring: dict[int, RingPedersenParams] = field(repr=False)
    bits: int = 2048

    def __repr__(self) -> str:
        return (
            f"KeyShare(party={self.party_id}, t={self.threshold}, n={len(self.party_ids)}, epoch={self.epoch}, "
            f"Y={self.group_key_bytes.hex()})"
        )

    __str__ = __repr__

    @property
    def group_key_bytes(self) -> bytes:
        """Compressed SEC1 group public key."""
        return encode_point(self.group_key)

    def check_consistent(self) -> None:
        """Own share matches X_i and any t public shares interpolate to Y."""
        ids = check_indices(list(self.party_ids))
        if self.party_id not in ids or set(self.public_shares) != set(ids):
            raise InvalidInputError("inconsistent key share")
        if not point_eq(base_mul(self.x), self.public_shares[self.party_id]):
            raise InvalidInputError("share does not match its public share")
        sub = ids[: self.threshold]
        y = add(*(mul(self.public_shares[j], lagrange(j, sub)) for j in sub))
        if not point_eq(y, self.group_key):
            raise InvalidInputError("public shares do not interpolate to the group key")

    def weighted_public_share(self, j: int, signers: list[int]) -> Point:
        """W_j = λ_j·X_j over the signer set (computed locally: SECURITY.md M3)."""
        w = mul(self.public_shares[j], lagrange(j, signers))
        if w is None:
            raise InvalidInputError("degenerate public share")
        return w

    def with_tweak(self, tweak: int) -> KeyShare:
        """This party's share of the key x + tweak (a BIP-32 child, `tss.hd`): x_i + tweak is a Shamir
        share of it (Lagrange coefficients sum to 1), every X_j and Y move by tweak·G. Paillier and
        ring-Pedersen parameters are the key's own, unchanged."""
        offset = tweak % Q
        if offset == 0:
            return self
        delta = base_mul(offset)
        moved = {j: add(p, delta) for j, p in self.public_shares.items()}
        group_key = add(self.group_key, delta)
        if group_key is None or any(p is None for p in moved.values()):
            raise InvalidInputError("the derived key is the identity")
        share = replace(self, x=(self.x + offset) % Q, public_shares={j: p for j, p in moved.items() if p is not None},
                        group_key=group_key)
        share.check_consistent()
        return share

    def public_dict(self) -> dict[str, object]:
        return {
            "protocol": "gg20",
            "group_key": self.group_key_bytes.hex(),
            "threshold": self.threshold,
            "party_ids": list(self.party_ids),
            "epoch": self.epoch,
            "public_shares": {str(k): pt_hex(v) for k, v in sorted(self.public_shares.items())},
            "ssid": self.ssid.hex(),
        }

    def to_bytes(self) -> bytes:
        obj = {
            "v": FORMAT_VERSION,
            "protocol": "gg20",
            "ssid": self.ssid.hex(),
            "epoch": self.epoch,
            "threshold": self.threshold,
            "party_id": self.party_id,
            "party_ids": list(self.party_ids),
            "x": enc_int(self.x),
            "X": {str(k): pt_hex(v) for k, v in self.public_shares.items()},
            "Y": pt_hex(self.group_key),
            "paillier_p": enc_int(self.paillier.p),
            "paillier_q": enc_int(self.paillier.q),
            "N": {str(k): enc_int(v.n) for k, v in self.paillier_keys.items()},
            "ring": {str(k): [enc_int(v.n), enc_int(v.s), enc_int(v.t)] for k, v in self.ring.items()},
            "bits": self.bits,
        }
        return json.dumps(obj, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyShare:
        try:
            obj = json.loads(data)
            if obj["v"] != FORMAT_VERSION or obj["protocol"] != "gg20":
                raise EncodingError("unknown key share format")
            bits = int(obj["bits"])
            cap = bits + 8
            share = cls(
                ssid=bytes.fromhex(obj["ssid"]),
                epoch=int(obj["epoch"]),
                threshold=int(obj["threshold"]),
                party_id=int(obj["party_id"]),
                party_ids=tuple(int(i) for i in obj["party_ids"]),
                x=dec_int(obj["x"], 256),
                public_shares={int(k): pt(v) for k, v in obj["X"].items()},
                group_key=pt(obj["Y"]),
                paillier=PaillierPrivateKey(dec_int(obj["paillier_p"], cap), dec_int(obj["paillier_q"], cap)),
                paillier_keys={int(k): PaillierPublicKey(dec_int(v, cap)) for k, v in obj["N"].items()},
                ring={int(k): RingPedersenParams(*(dec_int(x, cap) for x in v)) for k, v in obj["ring"].items()},
                bits=bits,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EncodingError("malformed key share") from exc
        share.check_consistent()
        return share
