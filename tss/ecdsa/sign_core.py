"""Rounds shared by GG18 signing and GG20 presigning (GG18 eprint 2019/114 §4.2 phases 1-4;
GG20 eprint 2020/540 §3.2 rounds 1-4), with SECURITY.md §3 hardening.

  1. k_i, γ_i ← Z_q; broadcast ssid contribution, C_i = com(Γ_i = γ_i·G), c_i = Enc_i(k_i).
  2. derive ssid; send each j Alice's range proof for c_i under j's ring-Pedersen (P5); echo of 1.
  3. verify range proofs (c_j validated first, P6); as Bob answer MtA(k_j, γ_i) and MtAwc(k_j, w_i).
  4. as Alice verify replies (MtAwc against W_j = λ_j·X_j computed locally, M3), decrypt, range-check;
     broadcast δ_i = k_iγ_i + Σ(α_ij + β_ji); keep σ_i = k_i w_i + Σ(μ_ij + ν_ji).
  5. broadcast the opening of C_i and a Schnorr PoK of γ_i; echo of 4.
  6. (start, `finish_core`) verify openings and PoKs; R = δ^{-1}·Σ Γ_j, r = R.x mod q.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tss.ecdsa.curve import Point, Q, add, base_mul, mul
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.mta import MtaReply, alice_finish, bob_respond
from tss.ecdsa.poly import check_indices, lagrange
from tss.ecdsa.rounds import (
    CONTRIBUTION_BYTES,
    RoundDriver,
    bcast,
    check_echo,
    collect,
    commit,
    contribution,
    derive_ssid,
    dump,
    echo_digest,
    load,
    open_commitment,
    p2p,
    payload_bytes,
    pt,
    pt_hex,
)
from tss.ecdsa.signature import r_of
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.messages import RoundMessage
from tss.protocol import RoundOutput
from tss.rng import Rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.mta import AliceRangeProof, prove_alice, verify_alice
from tss.zk.schnorr import DlogProof, prove_dlog, verify_dlog

__all__ = ["SignCore"]

Step = Callable[[dict[str, Any], Sequence[RoundMessage], Rng], RoundOutput]


def h(v: int) -> str:
    return format(v, "x")


def uh(s: str) -> int:
    return int(s, 16)


class SignCore(RoundDriver):
    """Common constructor, dispatch and rounds 1-5 (+ start of 6) for GG18 sign / GG20 presign."""

    name = "gg-core"
    total_rounds = 6

    def __init__(
        self, *, session_id: bytes, key_share: KeyShare, signers: Sequence[int], extra: dict[str, Any]
    ) -> None:
        self.share = key_share
        self.signers = check_indices(list(signers))
        if key_share.party_id not in self.signers or not set(self.signers) <= set(key_share.party_ids):
            raise InvalidInputError("signer set must contain this party and only key holders")
        if len(self.signers) < key_share.threshold:
            raise InvalidInputError("fewer signers than the threshold")
        self.me = key_share.party_id
        self.others = [j for j in self.signers if j != self.me]
        self.session_id = bytes(session_id)
        self.context = {
            "protocol": self.name,
            "key": key_share.group_key_bytes.hex(),
            "key_ssid": key_share.ssid.hex(),
            "epoch": key_share.epoch,
            "signers": self.signers,
        } | extra

    def steps(self) -> dict[int, Step]:
        return {1: self._r1, 2: self._r2, 3: self._r3, 4: self._r4, 5: self._r5}

    def r4_extra(self, st: dict[str, Any], sigma: int, rng: Rng) -> dict[str, Any]:
        """Hook: extra fields of the round-4 broadcast (GG20 adds T_i); may record secrets in `st`."""
        return {}

    def r4_check(self, st: dict[str, Any], r4: dict[int, Any]) -> None:
        """Hook: verify the extra round-4 fields of every peer (raise `ProtocolError` naming it)."""

    def _w(self) -> int:
        return self.share.x * lagrange(self.me, self.signers) % Q

    def kind(self, suffix: str) -> str:
        return f"{self.name}/{suffix}"

    # -- rounds ----------------------------------------------------------------------------------
    def _r1(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        if inbound:
            raise ProtocolError("unexpected_message", {m.sender for m in inbound})
        k, gamma = 1 + rng.randbelow(Q - 1), 1 + rng.randbelow(Q - 1)
        big_gamma = base_mul(gamma)
        assert big_gamma is not None
        c_k, r_k = self.share.paillier.public.encrypt(k, rng)
        rand = rng.token_bytes(32)
        base = derive_ssid(self.name + "-base", self.session_id, self.context, {})
        contrib = rng.token_bytes(CONTRIBUTION_BYTES)
        payload = {
            "contrib": contrib.hex(),
            "com": commit("gamma", base, self.me, big_gamma.format(), rand).hex(),
            "c": h(c_k),
        }
        msg = bcast(self.me, 1, self.kind("r1"), payload)
        st = {
            "round": 1,
            "k": h(k),
            "gamma": h(gamma),
            "c_k": h(c_k),
            "r_k": h(r_k),
            "rand": rand.hex(),
            "base": base.hex(),
            "r1": msg.payload.hex(),
        }
        return RoundOutput(dump(st), [msg])

    def _r2(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r1 = collect(inbound, me=self.me, round_no=1, kind=self.kind("r1"), senders=self.signers, broadcast=True)
        own = load(bytes.fromhex(st["r1"]))
        contribs = {j: contribution(o, j) for j, o in r1.items()} | {self.me: bytes.fromhex(own["contrib"])}
        coms, cks = {}, {}
        for j, o in r1.items():
            try:
                coms[j] = bytes.fromhex(o["com"])
                cks[j] = dec_int(o["c"], 2 * self.share.bits)
            except (KeyError, TypeError, ValueError):
                raise ProtocolError("malformed_payload", (j,)) from None
            if len(coms[j]) != 32:
                raise ProtocolError("malformed_payload", (j,))
            self.share.paillier_keys[j].validate_ciphertext(cks[j], sender=j)  # P6 before any proof
        ssid = derive_ssid(self.name, self.session_id, self.context, contribs)
        echo = echo_digest(payload_bytes(inbound, self.kind("r1")) | {self.me: bytes.fromhex(st["r1"])})
        pk = self.share.paillier.public
        k, c_k, r_k = uh(st["k"]), uh(st["c_k"]), uh(st["r_k"])
        out = [bcast(self.me, 2, self.kind("r2"), {"echo": echo})]
        for j in self.others:
            proof = prove_alice(pk, self.share.ring[j], c_k, k, r_k, ssid, self.me, j, rng)
            out.append(p2p(self.me, j, 2, self.kind("r2/range"), {"proof": proof.to_wire()}))
        st.update(
            round=2,
            ssid=ssid.hex(),
            coms={str(j): c.hex() for j, c in coms.items()},
            cks={str(j): h(c) for j, c in cks.items()},
            echo1=echo,
        )
        return RoundOutput(dump(st), out)

    def _r3(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r2 = collect(inbound, me=self.me, round_no=2, kind=self.kind("r2"), senders=self.signers, broadcast=True)
        proofs = collect(
            inbound, me=self.me, round_no=2, kind=self.kind("r2/range"), senders=self.signers, broadcast=False
        )
        check_echo(st["echo1"], r2)
        ssid = bytes.fromhex(st["ssid"])
        own_rp = self.share.ring[self.me]
        gamma, w = uh(st["gamma"]), self._w()
        out: list[RoundMessage] = []
        beta_sum, nu_sum = 0, 0
        for j in self.others:
            c_j = uh(st["cks"][str(j)])
            try:
                proof = AliceRangeProof.from_wire(proofs[j].get("proof"), self.share.bits)
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            if not verify_alice(self.share.paillier_keys[j], own_rp, c_j, proof, ssid, j, self.me):
                raise ProtocolError("bad_range_proof", (j,))
            pk_j, rp_j = self.share.paillier_keys[j], self.share.ring[j]
            rep_g, beta = bob_respond(
                pk_j, rp_j, c_j, gamma, ssid=ssid, bob=self.me, alice=j, with_check=False, rng=rng
            )
            rep_w, nu = bob_respond(pk_j, rp_j, c_j, w, ssid=ssid, bob=self.me, alice=j, with_check=True, rng=rng)
            beta_sum, nu_sum = (beta_sum + beta) % Q, (nu_sum + nu) % Q
            out.append(p2p(self.me, j, 3, self.kind("r3/mta"), {"gamma": rep_g.to_wire(), "w": rep_w.to_wire()}))
        st.update(round=3, beta=h(beta_sum), nu=h(nu_sum))
        return RoundOutput(dump(st), out)

    def _r4(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        replies = collect(
            inbound, me=self.me, round_no=3, kind=self.kind("r3/mta"), senders=self.signers, broadcast=False
        )
        ssid = bytes.fromhex(st["ssid"])
        k, gamma, c_k = uh(st["k"]), uh(st["gamma"]), uh(st["c_k"])
        key, own_rp = self.share.paillier, self.share.ring[self.me]
        delta = (k * gamma + uh(st["beta"])) % Q
        sigma = (k * self._w() + uh(st["nu"])) % Q
        for j in self.others:
            try:
                rep_g = MtaReply.from_wire(replies[j].get("gamma"), self.share.bits, with_check=False)
                rep_w = MtaReply.from_wire(replies[j].get("w"), self.share.bits, with_check=True)
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            w_j = self.share.weighted_public_share(j, self.signers)
            delta += alice_finish(key, own_rp, c_k, rep_g, ssid=ssid, bob=j, alice=self.me, big_x=None)
            sigma += alice_finish(key, own_rp, c_k, rep_w, ssid=ssid, bob=j, alice=self.me, big_x=w_j)
        delta, sigma = delta % Q, sigma % Q
        msg = bcast(self.me, 4, self.kind("r4"), {"delta": h(delta)} | self.r4_extra(st, sigma, rng))
        st.update(round=4, delta_i=h(delta), sigma=h(sigma), r4=msg.payload.hex())
        return RoundOutput(dump(st), [msg])

    def _r5(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r4 = collect(inbound, me=self.me, round_no=4, kind=self.kind("r4"), senders=self.signers, broadcast=True)
        self.r4_check(st, r4)
        delta = uh(st["delta_i"])
        for j, o in r4.items():
            try:
                d = dec_int(o.get("delta"), 256)
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            if d >= Q:
                raise ProtocolError("malformed_payload", (j,))
            delta += d
        delta %= Q
        if delta == 0:
            raise ProtocolError("degenerate_delta", ())
        echo = echo_digest(payload_bytes(inbound, self.kind("r4")) | {self.me: bytes.fromhex(st["r4"])})
        gamma = uh(st["gamma"])
        big_gamma = base_mul(gamma)
        assert big_gamma is not None
        ssid = bytes.fromhex(st["ssid"])
        payload = {
            "echo": echo,
            "Gamma": pt_hex(big_gamma),
            "rand": st["rand"],
            "pok": prove_dlog(gamma, ssid, self.me, rng, tag=self.name + "/gamma").to_wire(),
        }
        msg = bcast(self.me, 5, self.kind("r5"), payload)
        st.update(round=5, delta=h(delta), echo4=echo, own5=msg.payload.hex())
        return RoundOutput(dump(st), [msg])

    def finish_core(self, st: dict[str, Any], inbound: Sequence[RoundMessage]) -> tuple[Point, int]:
        """Round 6 prologue: check openings + PoKs of Γ_j; return (R, r)."""
        r5 = collect(inbound, me=self.me, round_no=5, kind=self.kind("r5"), senders=self.signers, broadcast=True)
        check_echo(st["echo4"], r5)
        ssid, base = bytes.fromhex(st["ssid"]), bytes.fromhex(st["base"])
        gammas = [base_mul(uh(st["gamma"]))]
        for j in self.others:
            o = r5[j]
            try:
                g_j = pt(o.get("Gamma"))
                pok = DlogProof.from_wire(o.get("pok"))
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            if not open_commitment("gamma", base, j, g_j.format(), o.get("rand"), bytes.fromhex(st["coms"][str(j)])):
                raise ProtocolError("bad_decommitment", (j,))
            if not verify_dlog(pok, g_j, ssid, j, tag=self.name + "/gamma"):
                raise ProtocolError("bad_schnorr_proof", (j,))
            gammas.append(g_j)
        big_r = mul(add(*gammas), pow(uh(st["delta"]), -1, Q))
        if big_r is None or r_of(big_r) == 0:
            raise ProtocolError("degenerate_nonce", ())
        return big_r, r_of(big_r)

    @staticmethod
    def enc(v: int) -> str:
        return enc_int(v)
