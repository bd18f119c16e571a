"""Distributed key generation for GG18/GG20 (GG18 eprint 2019/114 §4.1; GG20 eprint 2020/540 §3.1),
hardened with CGGMP21's Π^mod, Π^fac, Π^prm and the checks of SECURITY.md §1, §4.

Rounds (`KeygenProtocol.run_round`):
  1. broadcast a 16-byte ssid contribution and a hash commitment to the Feldman vector (C1, C2).
  2. derive ssid; broadcast the opening, a Schnorr PoK of a_{i,0}, Paillier N_i + Π^mod, ring-Pedersen
     (Ñ_i, s_i, t_i) + Π^prm (both directions), the echo of round 1; send f_i(j) to each j.
  3. verify everything from round 2 (naming the sender), compute x_i, X_j, Y; send Π^fac for N_i under
     each j's (Ñ_j, s_j, t_j); broadcast the echo of round 2 and a Schnorr PoK of x_i.
  4. verify Π^fac, echoes and PoKs; output the `KeyShare`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tss.ecdsa.auxinfo import make_aux, make_fac, verify_aux_set, verify_fac_msg
from tss.ecdsa.curve import Q, add, base_mul, point_eq
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.poly import check_indices, eval_poly, feldman_commit, feldman_eval, feldman_verify, random_poly
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
    payload_hash,
    pt,
    pt_hex,
)
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.messages import RoundMessage
from tss.paillier import MIN_MODULUS_BITS, PaillierPublicKey, PreParams, PreParamsPool, RingPedersenParams
from tss.protocol import RoundOutput
from tss.rng import Rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.schnorr import DlogProof, prove_dlog, verify_dlog

__all__ = ["KeygenProtocol"]

K1, K2, K2S, K3, K3F = "keygen/r1", "keygen/r2", "keygen/r2/share", "keygen/r3", "keygen/r3/fac"


def _points_bytes(points: Sequence[Any]) -> bytes:
    return b"".join(p.format() for p in points)


class KeygenProtocol(RoundDriver):
    """One party's side of GG18/GG20 keygen (any 2 <= t <= n).

    Args:
        session_id: id agreed by the orchestration for this session (mixed with every party's
            contribution into the ssid all proofs bind).
        party_id: this party's index (1-based; checked with the others, SECURITY.md I1).
        party_ids: all n indices.
        threshold: t = minimum number of signers (polynomial degree t-1).
        preparams / pool: where round 1 takes this party's Paillier and ring-Pedersen secrets.
        modulus_bits: required size of every N and Ñ (>= 2048).
    """

    name = "gg20/keygen"
    total_rounds = 4

    def __init__(
        self,
        *,
        session_id: bytes,
        party_id: int,
        party_ids: Sequence[int],
        threshold: int,
        preparams: PreParams | None = None,
        pool: PreParamsPool | None = None,
        modulus_bits: int = 2048,
    ) -> None:
        self.ids = check_indices(list(party_ids))
        if party_id not in self.ids or not 2 <= threshold <= len(self.ids):
            raise InvalidInputError("party not in the set, or threshold outside [2, n]")
        if modulus_bits < MIN_MODULUS_BITS:
            raise InvalidInputError("modulus below the minimum size (SECURITY.md P3)")
        self.session_id, self.me, self.t, self.bits = bytes(session_id), party_id, threshold, modulus_bits
        self._preparams, self._pool = preparams, pool
        self.context = {"protocol": self.name, "parties": self.ids, "t": threshold, "bits": modulus_bits}

    def steps(self) -> dict[int, Any]:
        return {1: self._round1, 2: self._round2, 3: self._round3, 4: self._round4}

    # -- round 1 ---------------------------------------------------------------------------------
    def _round1(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        if inbound:
            raise ProtocolError("unexpected_message", {m.sender for m in inbound})
        # The pool normally has entries; if it ran dry, generate now rather than fail (slow, seconds).
        pre = self._preparams or (self._pool or PreParamsPool(bits=self.bits)).take(generate_if_empty=True, rng=rng)
        if pre.bits != self.bits:
            raise InvalidInputError("no pre-parameters of the configured size")
        coeffs = random_poly(rng.randbelow(Q - 1) + 1, self.t, rng)
        vss = feldman_commit(coeffs)
        rand = rng.token_bytes(32)
        base = derive_ssid("gg20/keygen-base", self.session_id, self.context, {})
        contrib = rng.token_bytes(CONTRIBUTION_BYTES)
        msg = bcast(
            self.me,
            1,
            K1,
            {"contrib": contrib.hex(), "com": commit("vss", base, self.me, _points_bytes(vss), rand).hex()},
        )
        st = {
            "round": 1,
            "pre": pre.to_json(),
            "coeffs": [enc_int(c) for c in coeffs],
            "rand": rand.hex(),
            "base": base.hex(),
            "r1": msg.payload.hex(),
        }
        return RoundOutput(dump(st), [msg])

    # -- round 2 ---------------------------------------------------------------------------------
    def _round2(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r1 = collect(inbound, me=self.me, round_no=1, kind=K1, senders=self.ids, broadcast=True)
        own = load(bytes.fromhex(st["r1"]))
        contribs = {j: contribution(obj, j) for j, obj in r1.items()} | {self.me: bytes.fromhex(own["contrib"])}
        coms = {}
        for j, obj in r1.items():
            try:
                coms[j] = bytes.fromhex(obj["com"])
            except (KeyError, TypeError, ValueError):
                raise ProtocolError("malformed_payload", (j,)) from None
            if len(coms[j]) != 32:
                raise ProtocolError("malformed_payload", (j,))
        ssid = derive_ssid("gg20/keygen", self.session_id, self.context, contribs)
        echo = echo_digest(payload_bytes(inbound, K1) | {self.me: bytes.fromhex(st["r1"])})
        pre = PreParams.from_json(st["pre"], trusted=True)
        coeffs = [dec_int(c, 256) for c in st["coeffs"]]
        vss = feldman_commit(coeffs)
        payload = {
            "echo": echo,
            "C": [pt_hex(p) for p in vss],
            "rand": st["rand"],
            "pok": prove_dlog(coeffs[0], ssid, self.me, rng, tag="keygen/a0").to_wire(),
        } | make_aux(pre, ssid, self.me, rng)
        out = [bcast(self.me, 2, K2, payload)]
        out += [p2p(self.me, j, 2, K2S, {"share": enc_int(eval_poly(coeffs, j))}) for j in self.ids if j != self.me]
        st.update(
            round=2,
            ssid=ssid.hex(),
            coms={str(j): c.hex() for j, c in coms.items()},
            r2_hash=payload_hash(out[0].payload),
            r2_echo=echo,
        )
        return RoundOutput(dump(st), out)

    # -- round 3 ---------------------------------------------------------------------------------
    def _round3(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r2 = collect(inbound, me=self.me, round_no=2, kind=K2, senders=self.ids, broadcast=True)
        shares_in = collect(inbound, me=self.me, round_no=2, kind=K2S, senders=self.ids, broadcast=False)
        ssid, base = bytes.fromhex(st["ssid"]), bytes.fromhex(st["base"])
        pre = PreParams.from_json(st["pre"], trusted=True)
        coeffs = [dec_int(c, 256) for c in st["coeffs"]]
        vss: dict[int, list[Any]] = {self.me: feldman_commit(coeffs)}
        shares = {self.me: eval_poly(coeffs, self.me)}
        for j in sorted(r2):
            obj = r2[j]
            try:
                cj = obj["C"]
                if not isinstance(cj, list) or len(cj) != self.t:  # C3: exactly t entries
                    raise ProtocolError("bad_vss_length", (j,))
                vss[j] = [pt(c) for c in cj]
                pok = DlogProof.from_wire(obj["pok"])
                share = dec_int(shares_in[j].get("share"), 256)
                com = bytes.fromhex(st["coms"][str(j)])
            except (EncodingError, KeyError, TypeError):
                raise ProtocolError("malformed_payload", (j,)) from None
            if not open_commitment("vss", base, j, _points_bytes(vss[j]), obj.get("rand"), com):
                raise ProtocolError("bad_decommitment", (j,))
            if not verify_dlog(pok, vss[j][0], ssid, j, tag="keygen/a0"):
                raise ProtocolError("bad_schnorr_proof", (j,))
            if not feldman_verify(vss[j], self.me, share):
                raise ProtocolError("invalid_share", (j,))
            shares[j] = share
        paillier, ring = verify_aux_set(r2, pre, self.me, self.bits, ssid)
        # Echo last: per-sender faults above name their sender; a view mismatch cannot be attributed.
        check_echo(st["r2_echo"], r2)
        x = sum(shares.values()) % Q
        group_key = add(*(c[0] for c in vss.values()))
        pub = {k: add(*(feldman_eval(c, k) for c in vss.values())) for k in self.ids}
        if group_key is None or x == 0 or any(p is None for p in pub.values()):
            raise ProtocolError("degenerate_key", ())
        echo = echo_digest(payload_bytes(inbound, K2), {self.me: bytes.fromhex(st["r2_hash"])})
        out = [
            bcast(self.me, 3, K3, {"echo": echo, "pok_x": prove_dlog(x, ssid, self.me, rng, tag="keygen/x").to_wire()})
        ]
        for j in self.ids:
            if j != self.me:
                out.append(p2p(self.me, j, 3, K3F, make_fac(pre, ring[j], ssid, self.me, j, rng)))
        st.update(
            round=3,
            x=enc_int(x),
            X={str(k): pt_hex(v) for k, v in pub.items() if v is not None},
            Y=pt_hex(group_key),
            N={str(k): enc_int(v) for k, v in paillier.items()},
            ring={str(k): [enc_int(v.n), enc_int(v.s), enc_int(v.t)] for k, v in ring.items()},
            r3_echo=echo,
        )
        for key in ("coeffs", "rand", "coms", "r1", "r2_hash", "r2_echo"):
            st.pop(key, None)
        return RoundOutput(dump(st), out)

    # -- round 4 ---------------------------------------------------------------------------------
    def _round4(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r3 = collect(inbound, me=self.me, round_no=3, kind=K3, senders=self.ids, broadcast=True)
        facs = collect(inbound, me=self.me, round_no=3, kind=K3F, senders=self.ids, broadcast=False)
        check_echo(st["r3_echo"], r3)
        ssid = bytes.fromhex(st["ssid"])
        pre = PreParams.from_json(st["pre"], trusted=True)
        pub = {int(k): pt(v) for k, v in st["X"].items()}
        for j in sorted(r3):
            verify_fac_msg(facs[j], int(st["N"][str(j)], 16), pre, ssid, j, self.me, self.bits)
            try:
                pok = DlogProof.from_wire(r3[j].get("pok_x"))
            except EncodingError:
                raise ProtocolError("malformed_payload", (j,)) from None
            if not verify_dlog(pok, pub[j], ssid, j, tag="keygen/x"):
                raise ProtocolError("bad_schnorr_proof", (j,))
        share = KeyShare(
            ssid=ssid,
            epoch=0,
            threshold=self.t,
            party_id=self.me,
            party_ids=tuple(self.ids),
            x=dec_int(st["x"], 256),
            public_shares=pub,
            group_key=pt(st["Y"]),
            paillier=pre.paillier,
            paillier_keys={int(k): PaillierPublicKey(int(v, 16)) for k, v in st["N"].items()},
            ring={int(k): RingPedersenParams(*(int(x, 16) for x in v)) for k, v in st["ring"].items()},
            bits=self.bits,
        )
        share.check_consistent()
        if not point_eq(base_mul(share.x), pub[self.me]):
            raise ProtocolError("inconsistent_share", ())
        return RoundOutput(dump({"round": 4}), [], result=share.to_bytes(), public_result=share.public_dict())
