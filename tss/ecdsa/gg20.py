"""GG20 presigning (offline) and one-round online signing (Gennaro-Goldfeder 2020, eprint 2020/540 §3.2,
§4.1 "one-round online signing"), with identifiable abort for bad proofs and bad signature shares.

Presign (`GG20PresignProtocol`, 7 rounds): rounds 1-5 and the start of 6 are `SignCore`; in round 4
GG20 adds T_i = σ_i·G + l_i·H with a PoK of (σ_i, l_i) (phase 3; H a NUMS generator). Then
  6. broadcast R̄_i = k_i·R and S_i = σ_i·R with a proof that S_i and T_i share σ_i; send each j a
     proof that R̄_i = k_i·R for the k_i inside c_i = Enc_i(k_i) (range proof with point relation,
     under j's ring-Pedersen; GG20 phase 6 "PDL with slack" in the form of CGGMP Π^log*).
  7. verify every proof (naming the sender: bad R̄_i proof, bad S_i/T_i link), then Σ R̄_j = G and
     Σ S_j = Y (M4): only then is the presignature output. It is bound to the key id, the share
     epoch, the signer set and the ssid (N5).

Online (`sign_share` / `combine`, or the `GG20SignProtocol` adapter): s_i = m·k_i + r·σ_i, released only
after the presignature is durably marked consumed (N2); each s_j is checked with
s_j·R = m·R̄_j + r·S_j, which names a cheating signer (identifiable abort).

Not implemented (documented gap): GG20's identification protocol for a failed Σ R̄ = G or Σ S = Y
check (revealing MtA values); such a failure aborts without a culprit, releasing nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tss.ecdsa.curve import G, Point, Q, add, base_mul, mul, point_eq
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.rounds import (
    RoundDriver,
    bcast,
    check_echo,
    collect,
    dump,
    echo_digest,
    p2p,
    payload_bytes,
    pt,
    pt_hex,
)
from tss.ecdsa.sign_core import SignCore, Step, h, uh
from tss.ecdsa.signature import EcdsaSignature, assemble, verify_digest
from tss.errors import EncodingError, InvalidInputError, NonceReuseError, ProtocolError
from tss.messages import RoundMessage
from tss.protocol import RoundOutput
from tss.rng import Rng
from tss.zk.codec import dec_int
from tss.zk.mta import AliceRangeProof, prove_alice, verify_alice
from tss.zk.schnorr import (
    H,
    SigmaLinkProof,
    TwoBaseProof,
    prove_sigma_link,
    prove_two_base,
    verify_sigma_link,
    verify_two_base,
)

SIGN_KIND = "gg20/sign/r1"

__all__ = [
    "GG20PresignProtocol",
    "GG20SignProtocol",
    "MemoryPresignatureStore",
    "Presignature",
    "PresignaturePublic",
    "PresignatureStore",
    "combine",
    "combine_public",
    "sign_share",
]


@dataclass(frozen=True)
class Presignature:
    """One party's presignature. Used for exactly one digest (SECURITY.md N5); k_i, σ_i are secret."""

    presig_id: bytes
    group_key: Point = field(repr=False)
    key_ssid: bytes
    epoch: int
    party_id: int
    signers: tuple[int, ...]
    big_r: Point = field(repr=False)
    k: int = field(repr=False)
    sigma: int = field(repr=False)
    r_bars: dict[int, Point] = field(repr=False)
    s_points: dict[int, Point] = field(repr=False)
    key_id: str = ""

    def __repr__(self) -> str:
        return f"Presignature(id={self.presig_id.hex()[:16]}, party={self.party_id}, signers={list(self.signers)})"

    __str__ = __repr__

    @property
    def r(self) -> int:
        return int.from_bytes(self.big_r.format(compressed=False)[1:33], "big") % Q

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "id": self.presig_id.hex(),
                "Y": pt_hex(self.group_key),
                "key_ssid": self.key_ssid.hex(),
                "epoch": self.epoch,
                "party_id": self.party_id,
                "signers": list(self.signers),
                "R": pt_hex(self.big_r),
                "k": h(self.k),
                "sigma": h(self.sigma),
                "Rbar": {str(j): pt_hex(p) for j, p in self.r_bars.items()},
                "S": {str(j): pt_hex(p) for j, p in self.s_points.items()},
                "key_id": self.key_id,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Presignature:
        try:
            o = json.loads(data)
            if o["v"] != 1:
                raise EncodingError("unknown presignature format")
            return cls(
                bytes.fromhex(o["id"]),
                pt(o["Y"]),
                bytes.fromhex(o["key_ssid"]),
                int(o["epoch"]),
                int(o["party_id"]),
                tuple(int(j) for j in o["signers"]),
                pt(o["R"]),
                dec_int(o["k"], 256),
                dec_int(o["sigma"], 256),
                {int(j): pt(p) for j, p in o["Rbar"].items()},
                {int(j): pt(p) for j, p in o["S"].items()},
                str(o["key_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EncodingError("malformed presignature") from exc


class PresignatureStore(Protocol):
    """Durable consumption record (the participant keeps it on disk, SECURITY.md N2)."""

    def mark_consumed(self, presig_id: bytes, digest: bytes) -> None:
        """Atomically record use; raise `NonceReuseError` if `presig_id` was consumed before."""
        ...


class MemoryPresignatureStore:
    """In-process store (tests, single-process use)."""

    def __init__(self) -> None:
        self._used: dict[bytes, bytes] = {}

    def mark_consumed(self, presig_id: bytes, digest: bytes) -> None:
        if presig_id in self._used:
            raise NonceReuseError("presignature already consumed")
        self._used[presig_id] = digest


def _check_binding(presig: Presignature, share: KeyShare, key_id: str) -> None:
    """N5 / R5: same key (id and group key), same epoch, same party, signers are key holders."""
    if (
        presig.key_id != key_id
        or not point_eq(presig.group_key, share.group_key)
        or presig.key_ssid != share.ssid
        or presig.epoch != share.epoch
        or presig.party_id != share.party_id
        or not set(presig.signers) <= set(share.party_ids)
    ):
        raise InvalidInputError("presignature is not bound to this key share and epoch")


def sign_share(
    presig: Presignature, share: KeyShare, digest: bytes, store: PresignatureStore, *, key_id: str = ""
) -> int:
    """Online step: check the binding (N5), mark consumed first (N2), then s_i = m·k_i + r·σ_i."""
    if len(digest) != 32:
        raise InvalidInputError("digest must be 32 bytes")
    _check_binding(presig, share, key_id)
    store.mark_consumed(presig.presig_id, bytes(digest))
    m = int.from_bytes(digest, "big") % Q
    return (m * presig.k + presig.r * presig.sigma) % Q


def combine(presig: Presignature, digest: bytes, shares: dict[int, int]) -> EcdsaSignature:
    """Check every s_j (s_j·R = m·R̄_j + r·S_j names the culprit), sum, low-s, verify (I5)."""
    return combine_public(PresignaturePublic(presig.big_r, presig.r_bars, presig.s_points, presig.group_key),
                          digest, shares)


@dataclass(frozen=True)
class PresignaturePublic:
    """What anyone may know of a presignature: R, each signer's R̄_j = k_j·R and S_j = σ_j·R, the group key.

    Enough to combine the online shares and name a signer whose s_j is wrong, without k_j or σ_j: the
    coordinator combines a pooled presignature's shares from this (activities/presign_pool.py).
    """

    big_r: Point
    r_bars: dict[int, Point]
    s_points: dict[int, Point]
    group_key: Point

    @property
    def signers(self) -> tuple[int, ...]:
        return tuple(sorted(self.r_bars))

    def to_dict(self) -> dict[str, Any]:
        return {"R": pt_hex(self.big_r), "Rbar": {str(j): pt_hex(self.r_bars[j]) for j in sorted(self.r_bars)},
                "S": {str(j): pt_hex(self.s_points[j]) for j in sorted(self.s_points)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], group_key: Point) -> PresignaturePublic:
        """Points are checked to be on the curve (`pt`); a malformed record is an `EncodingError`."""
        try:
            r_bars = {int(j): pt(p) for j, p in data["Rbar"].items()}
            s_points = {int(j): pt(p) for j, p in data["S"].items()}
            if set(r_bars) != set(s_points) or not r_bars:
                raise EncodingError("R̄ and S name different signers")
            return cls(pt(data["R"]), r_bars, s_points, group_key)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise EncodingError(f"malformed presignature record: {exc}") from None


def combine_public(public: PresignaturePublic, digest: bytes, shares: dict[int, int]) -> EcdsaSignature:
    """`combine` from public data only: check each s_j, sum, low-s, verify against the group key (I5)."""
    if len(digest) != 32:
        raise InvalidInputError("digest must be 32 bytes")
    if set(shares) != set(public.signers):
        raise ProtocolError("missing_message", set(public.signers) - set(shares))
    r = int.from_bytes(public.big_r.format(compressed=False)[1:33], "big") % Q
    m = int.from_bytes(digest, "big") % Q
    bad = []
    for j, s_j in shares.items():
        if not 0 <= s_j < Q or not point_eq(
            mul(public.big_r, s_j), add(mul(public.r_bars[j], m), mul(public.s_points[j], r))
        ):
            bad.append(j)
    if bad:
        raise ProtocolError("bad_signature_share", bad, detail="terminal: do not retry (SECURITY.md M5)")
    sig = assemble(public.big_r, sum(shares.values()) % Q)
    if not verify_digest(sig, public.group_key, digest):
        raise ProtocolError("invalid_signature", (), detail="terminal: do not retry (SECURITY.md M5)")
    return sig


class GG20PresignProtocol(SignCore):
    """One signer's side of GG20 presigning.

    Args:
        session_id: orchestration session id.
        key_share: this party's `KeyShare`.
        signers: the signing set the presignature will be bound to.
        key_id: the platform's key identifier, bound into the ssid and the presignature (N5).
    Result: `Presignature.to_bytes()` (secret); public_result: presignature id, R, signers.
    """

    name = "gg20/presign"
    total_rounds = 7

    def __init__(self, *, session_id: bytes, key_share: KeyShare, signers: Sequence[int], key_id: str = "") -> None:
        self.key_id = key_id
        super().__init__(session_id=session_id, key_share=key_share, signers=signers, extra={"key_id": key_id})

    def steps(self) -> dict[int, Step]:
        return super().steps() | {6: self._r6, 7: self._r7}

    def r4_extra(self, st: dict[str, Any], sigma: int, rng: Rng) -> dict[str, Any]:
        """GG20 phase 3: T_i = σ_i·G + l_i·H with a PoK of (σ_i, l_i)."""
        blind = 1 + rng.randbelow(Q - 1)
        big_t = add(base_mul(sigma), mul(H, blind))
        assert big_t is not None
        proof = prove_two_base(blind, sigma, H, bytes.fromhex(st["ssid"]), self.me, rng, tag="gg20/T")
        st.update(l=h(blind), T_own=pt_hex(big_t))
        return {"T": pt_hex(big_t), "pok_T": proof.to_wire()}

    def r4_check(self, st: dict[str, Any], r4: dict[int, Any]) -> None:
        ssid = bytes.fromhex(st["ssid"])
        ts = {}
        for j, o in r4.items():
            try:
                big_t, pok = pt(o.get("T")), TwoBaseProof.from_wire(o.get("pok_T"))
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            if not verify_two_base(pok, big_t, H, ssid, j, tag="gg20/T"):
                raise ProtocolError("bad_schnorr_proof", (j,))
            ts[str(j)] = pt_hex(big_t)
        st["T"] = ts

    def _r6(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        big_r, _ = self.finish_core(st, inbound)
        echo5 = echo_digest(payload_bytes(inbound, self.kind("r5")) | {self.me: bytes.fromhex(st["own5"])})
        k, sigma = uh(st["k"]), uh(st["sigma"])
        r_bar, s_pt = mul(big_r, k), mul(big_r, sigma)
        if r_bar is None or s_pt is None:
            raise ProtocolError("degenerate_nonce", ())
        ssid = bytes.fromhex(st["ssid"])
        pk = self.share.paillier.public
        link = prove_sigma_link(sigma, uh(st["l"]), big_r, ssid, self.me, rng)
        payload = {"echo": echo5, "Rbar": pt_hex(r_bar), "S": pt_hex(s_pt), "S_proof": link.to_wire()}
        out = [bcast(self.me, 6, self.kind("r6"), payload)]
        for j in self.others:
            proof = prove_alice(
                pk, self.share.ring[j], uh(st["c_k"]), k, uh(st["r_k"]), ssid, self.me, j, rng, point_base=big_r
            )
            out.append(p2p(self.me, j, 6, self.kind("r6/pdl"), {"proof": proof.to_wire()}))
        for key in ("gamma", "r_k", "beta", "nu", "delta_i"):
            st.pop(key, None)
        st.update(round=6, R=pt_hex(big_r), echo5=echo5, Rbar=pt_hex(r_bar), S=pt_hex(s_pt))
        return RoundOutput(dump(st), out)

    def _r7(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        msgs = collect(inbound, me=self.me, round_no=6, kind=self.kind("r6"), senders=self.signers, broadcast=True)
        proofs = collect(
            inbound, me=self.me, round_no=6, kind=self.kind("r6/pdl"), senders=self.signers, broadcast=False
        )
        check_echo(st["echo5"], msgs)
        ssid, big_r = bytes.fromhex(st["ssid"]), pt(st["R"])
        r_bars, s_points = {self.me: pt(st["Rbar"])}, {self.me: pt(st["S"])}
        own_rp = self.share.ring[self.me]
        for j in self.others:
            try:
                r_bar, s_pt = pt(msgs[j].get("Rbar")), pt(msgs[j].get("S"))
                proof = AliceRangeProof.from_wire(proofs[j].get("proof"), self.share.bits, with_point=True)
                link = SigmaLinkProof.from_wire(msgs[j].get("S_proof"))
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            if not verify_sigma_link(link, big_r, s_pt, pt(st["T"][str(j)]), ssid, j):
                raise ProtocolError("bad_sigma_proof", (j,))
            c_j = uh(st["cks"][str(j)])
            if not verify_alice(self.share.paillier_keys[j], own_rp, c_j, proof, ssid, j, self.me, stmt=(big_r, r_bar)):
                raise ProtocolError("bad_rbar_proof", (j,))
            r_bars[j], s_points[j] = r_bar, s_pt
        if not point_eq(add(*r_bars.values()), G):
            raise ProtocolError("rbar_check_failed", (), detail="identification protocol not implemented")
        if not point_eq(add(*s_points.values()), self.share.group_key):
            raise ProtocolError("sigma_check_failed", (), detail="identification protocol not implemented")
        presig = Presignature(
            presig_id=hashlib.sha256(b"gg20/presig-id" + ssid).digest(),
            group_key=self.share.group_key,
            key_ssid=self.share.ssid,
            epoch=self.share.epoch,
            party_id=self.me,
            signers=tuple(self.signers),
            big_r=big_r,
            k=uh(st["k"]),
            sigma=uh(st["sigma"]),
            r_bars=r_bars,
            s_points=s_points,
            key_id=self.key_id,
        )
        shared = PresignaturePublic(big_r, r_bars, s_points, self.share.group_key).to_dict()
        public = {"presig_id": presig.presig_id.hex(), **shared, "signers": self.signers}
        return RoundOutput(dump({"round": 7}), [], result=presig.to_bytes(), public_result=public)


def presign_from_bytes(session_id: bytes, key_share: bytes, signers: Sequence[int],
                       key_id: str = "") -> GG20PresignProtocol:
    """The same presigning party, rebuilt from plain bytes: what a round run in another process is
    given (a parsed `KeyShare` holds curve points, which do not pickle)."""
    return GG20PresignProtocol(session_id=session_id, key_share=KeyShare.from_bytes(key_share), signers=signers,
                               key_id=key_id)


class GG20SignProtocol(RoundDriver):
    """One-round online signing from a presignature.

    Round 1 consumes the presignature in `store` (before the share leaves, N2) and broadcasts s_i;
    round 2 checks every s_j, combines and verifies. Args: key_share, presignature (bytes or
    `Presignature`), digest (32 bytes), store (`PresignatureStore`), key_id (must match the presign).
    """

    name = "gg20/sign"
    total_rounds = 2

    def __init__(
        self,
        *,
        key_share: KeyShare,
        presignature: Presignature | bytes,
        digest: bytes,
        store: PresignatureStore,
        key_id: str = "",
    ) -> None:
        self.share = key_share
        self.presig = presignature if isinstance(presignature, Presignature) else Presignature.from_bytes(presignature)
        if len(digest) != 32:
            raise InvalidInputError("digest must be 32 bytes")
        _check_binding(self.presig, key_share, key_id)
        self.key_id = key_id
        self.digest, self.store, self.me = bytes(digest), store, key_share.party_id
        self.context = {
            "protocol": self.name,
            "presig": self.presig.presig_id.hex(),
            "digest": self.digest.hex(),
            "key_id": key_id,
            "key": key_share.group_key_bytes.hex(),
            "epoch": key_share.epoch,
        }

    def steps(self) -> dict[int, Any]:
        return {1: self._r1, 2: self._r2}

    def _r1(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        if inbound:
            raise ProtocolError("unexpected_message", {m.sender for m in inbound})
        s_i = sign_share(self.presig, self.share, self.digest, self.store, key_id=self.key_id)
        payload = {"presig": self.presig.presig_id.hex(), "digest": self.digest.hex(), "s": h(s_i)}
        return RoundOutput(dump({"round": 1, "s": h(s_i)}), [bcast(self.me, 1, SIGN_KIND, payload)])

    def _r2(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        kind = SIGN_KIND
        msgs = collect(inbound, me=self.me, round_no=1, kind=kind, senders=self.presig.signers, broadcast=True)
        shares = {self.me: uh(st["s"])}
        for j, o in msgs.items():
            if o.get("presig") != self.presig.presig_id.hex() or o.get("digest") != self.digest.hex():
                raise ProtocolError("presignature_mismatch", (j,))
            try:
                shares[j] = dec_int(o.get("s"), 256)
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
        sig = combine(self.presig, self.digest, shares)
        return RoundOutput(dump({"round": 2}), [], result=sig.to_bytes(), public_result=sig.public_dict())
