"""GG18 threshold ECDSA signing (Gennaro-Goldfeder 2018, eprint 2019/114 §4.2-4.3).

Rounds 1-5 and the start of 6 are `SignCore` (phases 1-4 with range-proof MtA/MtAwc). Phase 5:
  6. s_i = m·k_i + r·σ_i; l_i, ρ_i ← Z_q; V_i = s_i·R + l_i·G, A_i = ρ_i·G; broadcast com(V_i, A_i).
  7. open (V_i, A_i) with a two-base PoK of (s_i, l_i) and a Schnorr PoK of ρ_i (5B).
  8. V = -m·G - r·Y + Σ V_j, A = Σ A_j; U_i = ρ_i·V, T_i = l_i·A; broadcast com(U_i, T_i) (5C).
  9. open (U_i, T_i) (5D).
 10. check Σ U_j = Σ T_j, only then broadcast s_i (5E; M4).
 11. s = Σ s_j, low-s, verify with libsecp256k1 before output (I5); failure is terminal (M5).
Every broadcast after round 1 carries the echo of the previous broadcast round (C5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tss.ecdsa.curve import Q, add, base_mul, mul, neg, point_eq
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.rounds import (
    bcast,
    check_echo,
    collect,
    commit,
    dump,
    echo_digest,
    load,
    open_commitment,
    payload_bytes,
    pt,
    pt_hex,
)
from tss.ecdsa.sign_core import SignCore, Step, h, uh
from tss.ecdsa.signature import assemble, verify_digest
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.messages import RoundMessage
from tss.protocol import RoundOutput
from tss.rng import Rng
from tss.zk.codec import dec_int
from tss.zk.schnorr import DlogProof, TwoBaseProof, prove_dlog, prove_two_base, verify_dlog, verify_two_base

__all__ = ["GG18SignProtocol"]


class GG18SignProtocol(SignCore):
    """One signer's side of GG18 signing over a 32-byte digest.

    Args:
        session_id: orchestration session id (mixed with contributions into the ssid).
        key_share: this party's `KeyShare`.
        signers: the t (or more) signing parties.
        digest: 32-byte message hash, hashed upstream by the chain's rule (SECURITY.md N5).
    """

    name = "gg18/sign"
    total_rounds = 11

    def __init__(self, *, session_id: bytes, key_share: KeyShare, signers: Sequence[int], digest: bytes) -> None:
        if len(digest) != 32:
            raise InvalidInputError("digest must be 32 bytes")
        self.digest = bytes(digest)
        self.m = int.from_bytes(digest, "big") % Q
        super().__init__(session_id=session_id, key_share=key_share, signers=signers, extra={"digest": digest.hex()})

    def steps(self) -> dict[int, Step]:
        return super().steps() | {6: self._r6, 7: self._r7, 8: self._r8, 9: self._r9, 10: self._r10, 11: self._r11}

    def _collect_echoed(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rnd: int) -> dict[int, Any]:
        msgs = collect(
            inbound, me=self.me, round_no=rnd, kind=self.kind(f"r{rnd}"), senders=self.signers, broadcast=True
        )
        check_echo(st[f"echo{rnd - 1}"], msgs)
        st[f"echo{rnd}"] = echo_digest(
            payload_bytes(inbound, self.kind(f"r{rnd}")) | {self.me: bytes.fromhex(st[f"own{rnd}"])}
        )
        return msgs

    def _send(self, st: dict[str, Any], rnd: int, payload: dict[str, Any]) -> RoundOutput:
        msg = bcast(self.me, rnd, self.kind(f"r{rnd}"), payload)
        st.update(round=rnd, **{f"own{rnd}": msg.payload.hex()})
        return RoundOutput(dump(st), [msg])

    def _r6(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        big_r, r = self.finish_core(st, inbound)
        st["echo5"] = echo_digest(payload_bytes(inbound, self.kind("r5")) | {self.me: bytes.fromhex(st["own5"])})
        s_i = (self.m * uh(st["k"]) + r * uh(st["sigma"])) % Q
        l_i, rho_i = 1 + rng.randbelow(Q - 1), 1 + rng.randbelow(Q - 1)
        v_i, a_i = add(mul(big_r, s_i), base_mul(l_i)), base_mul(rho_i)
        assert v_i is not None and a_i is not None
        rand = rng.token_bytes(32)
        ssid = bytes.fromhex(st["ssid"])
        com = commit("gg18/VA", ssid, self.me, v_i.format() + a_i.format(), rand)
        for key in ("k", "gamma", "r_k", "sigma", "beta", "nu", "delta_i"):
            st.pop(key, None)
        st.update(R=pt_hex(big_r), r=h(r), s_i=h(s_i), l=h(l_i), rho=h(rho_i), rand5=rand.hex())
        return self._send(st, 6, {"echo": st["echo5"], "com": com.hex()})

    def _r7(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        msgs = collect(inbound, me=self.me, round_no=6, kind=self.kind("r6"), senders=self.signers, broadcast=True)
        check_echo(st["echo5"], msgs)
        st["echo6"] = echo_digest(payload_bytes(inbound, self.kind("r6")) | {self.me: bytes.fromhex(st["own6"])})
        st["coms6"] = {str(j): o.get("com") for j, o in msgs.items()}
        ssid, big_r = bytes.fromhex(st["ssid"]), pt(st["R"])
        s_i, l_i, rho_i = uh(st["s_i"]), uh(st["l"]), uh(st["rho"])
        v_i, a_i = add(mul(big_r, s_i), base_mul(l_i)), base_mul(rho_i)
        assert v_i is not None and a_i is not None
        payload = {
            "echo": st["echo6"],
            "V": pt_hex(v_i),
            "A": pt_hex(a_i),
            "rand": st["rand5"],
            "pv": prove_two_base(s_i, l_i, big_r, ssid, self.me, rng).to_wire(),
            "pa": prove_dlog(rho_i, ssid, self.me, rng, tag="gg18/A").to_wire(),
        }
        return self._send(st, 7, payload)

    def _r8(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        msgs = self._collect_echoed(st, inbound, 7)
        ssid, big_r = bytes.fromhex(st["ssid"]), pt(st["R"])
        own = load(bytes.fromhex(st["own7"]))
        vs, as_ = [pt(own["V"])], [pt(own["A"])]
        for j in self.others:
            o = msgs[j]
            try:
                v_j, a_j = pt(o.get("V")), pt(o.get("A"))
                pv, pa = TwoBaseProof.from_wire(o.get("pv")), DlogProof.from_wire(o.get("pa"))
                com = bytes.fromhex(st["coms6"][str(j)])
            except (EncodingError, TypeError, ValueError):
                raise ProtocolError("malformed_payload", (j,)) from None
            if not open_commitment("gg18/VA", ssid, j, v_j.format() + a_j.format(), o.get("rand"), com):
                raise ProtocolError("bad_decommitment", (j,))
            if not verify_two_base(pv, v_j, big_r, ssid, j) or not verify_dlog(pa, a_j, ssid, j, tag="gg18/A"):
                raise ProtocolError("bad_schnorr_proof", (j,))
            vs.append(v_j)
            as_.append(a_j)
        r = uh(st["r"])
        big_v = add(neg(base_mul(self.m)), neg(mul(self.share.group_key, r)), *vs)
        big_a = add(*as_)
        if big_v is None or big_a is None:
            raise ProtocolError("degenerate_phase5", ())
        u_i, t_i = mul(big_v, uh(st["rho"])), mul(big_a, uh(st["l"]))
        assert u_i is not None and t_i is not None
        rand = rng.token_bytes(32)
        st.update(U=pt_hex(u_i), T=pt_hex(t_i), rand8=rand.hex())
        return self._send(
            st,
            8,
            {"echo": st["echo7"], "com": commit("gg18/UT", ssid, self.me, u_i.format() + t_i.format(), rand).hex()},
        )

    def _r9(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        msgs = self._collect_echoed(st, inbound, 8)
        st["coms8"] = {str(j): o.get("com") for j, o in msgs.items()}
        return self._send(st, 9, {"echo": st["echo8"], "U": st["U"], "T": st["T"], "rand": st["rand8"]})

    def _r10(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        msgs = self._collect_echoed(st, inbound, 9)
        ssid = bytes.fromhex(st["ssid"])
        us, ts = [pt(st["U"])], [pt(st["T"])]
        for j in self.others:
            o = msgs[j]
            try:
                u_j, t_j = pt(o.get("U")), pt(o.get("T"))
                com = bytes.fromhex(st["coms8"][str(j)])
            except (EncodingError, TypeError, ValueError):
                raise ProtocolError("malformed_payload", (j,)) from None
            if not open_commitment("gg18/UT", ssid, j, u_j.format() + t_j.format(), o.get("rand"), com):
                raise ProtocolError("bad_decommitment", (j,))
            us.append(u_j)
            ts.append(t_j)
        if not point_eq(add(*us), add(*ts)):
            # GG18 phase 5D: someone deviated; s_i is NOT released (M4). GG18 cannot say who.
            raise ProtocolError("phase5_check_failed", ())
        return self._send(st, 10, {"echo": st["echo9"], "s": st["s_i"]})

    def _r11(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        msgs = self._collect_echoed(st, inbound, 10)
        s = uh(st["s_i"])
        for j, o in msgs.items():
            try:
                s_j = dec_int(o.get("s"), 256)
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            s += s_j
        sig = assemble(pt(st["R"]), s % Q)
        if not verify_digest(sig, self.share.group_key, self.digest):
            raise ProtocolError("invalid_signature", (), detail="terminal: do not retry (SECURITY.md M5)")
        return RoundOutput(dump({"round": 11}), [], result=sig.to_bytes(), public_result=sig.public_dict())
