"""Resharing a GG18/GG20 key: t-of-n (old committee) -> t'-of-n' (new committee), same group key.

Follows the resharing of GG18-based tss-lib ("ReSharing", after Wong-Wang-Wing / Desmedt-Jajodia
redistribution) with the checks of SECURITY.md §7:
  * only t old holders (the "dealers") take part; each reshares w_i = λ_i·x_i with a fresh polynomial
    of degree t'-1, and its Feldman C_{i,0} must equal λ_i·X_i from the old public shares (R1);
  * every participant recomputes X'_k and Y' from the commitments and requires Y' = Y (R2);
  * every new member brings a fresh Paillier + ring-Pedersen package with Π^mod, Π^prm, Π^fac (R4);
  * new members ACK H(ssid ‖ X' list ‖ Y); the ACK set is echoed once more so every participant knows
    all others saw the same ACKs before the old share may be retired (R3);
  * the ssid covers old and new party lists, both thresholds and the old epoch; the new share has
    epoch + 1 (R5).

Party ids are node protocol ids shared by both committees: a node in both plays both roles.

A recovery from escrow runs the same protocol from a *staged* sharing (`tss.ecdsa.staging`): the dealers deal
from their `StagedShare` (a scalar and its public share, no Paillier key), `old_public` is the staging package,
and the new members come out with complete key shares, exactly as from a reshare.

Rounds: 1 contributions + dealers' commitments; 2 dealers open C_i and send g_i(j); new members send
their Paillier package; 3 verify, compute, ACK (+ Π^fac, PoK of x'_j); 4 check ACKs, echo them;
5 check the echo and output.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from tss.ecdsa.auxinfo import make_aux, make_fac, verify_aux_set, verify_fac_msg
from tss.ecdsa.curve import Point, Q, add, base_mul, mul, point_eq
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.poly import check_indices, eval_poly, feldman_commit, feldman_eval, feldman_verify, lagrange, random_poly
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
from tss.ecdsa.staging import StagedShare
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.messages import RoundMessage
from tss.paillier import MIN_MODULUS_BITS, PaillierPublicKey, PreParams, PreParamsPool, RingPedersenParams
from tss.protocol import RoundOutput
from tss.rng import Rng
from tss.zk.codec import dec_int, enc_int
from tss.zk.schnorr import DlogProof, prove_dlog, verify_dlog

__all__ = ["ReshareProtocol"]

KIND = "gg20/reshare"


def _pts(points: Sequence[Point]) -> bytes:
    return b"".join(p.format() for p in points)


class ReshareProtocol(RoundDriver):
    """One participant of a reshare (old dealer, new member, or both).

    Args:
        session_id: orchestration session id.
        party_id: this node's protocol id.
        old_public: `KeyShare.public_dict()` of the key (group_key, public_shares, threshold,
            party_ids, epoch, ssid): public data every participant knows from the key record.
        old_signers: the >= t old holders that deal (must include `party_id` if it deals).
        new_party_ids / new_threshold: the new committee, 2 <= t' <= n'.
        key_share: this node's old `KeyShare`, or its `StagedShare` in a recovery from escrow (required iff
            it is among `old_signers`); x·G must be its public share in `old_public`.
        preparams / pool: fresh pre-parameters (required iff it is a new member).
        modulus_bits: N / Ñ size for new members (>= 2048).
    Result: new members get `KeyShare.to_bytes()` (epoch + 1); old-only participants get no share and
    a public_result with ``retire_old_share: true``.
    """

    name = KIND
    total_rounds = 5

    def __init__(
        self,
        *,
        session_id: bytes,
        party_id: int,
        old_public: dict[str, Any],
        old_signers: Sequence[int],
        new_party_ids: Sequence[int],
        new_threshold: int,
        key_share: KeyShare | StagedShare | None = None,
        preparams: PreParams | None = None,
        pool: PreParamsPool | None = None,
        modulus_bits: int = 2048,
    ) -> None:
        try:
            self.group_key = pt(old_public["group_key"])
            self.old_t = int(old_public["threshold"])
            self.old_ids = check_indices([int(i) for i in old_public["party_ids"]])
            self.old_X = {int(k): pt(v) for k, v in old_public["public_shares"].items()}
            self.old_epoch = int(old_public["epoch"])
        except (KeyError, TypeError, ValueError, EncodingError) as exc:
            raise InvalidInputError("malformed old key record") from exc
        self.dealers = check_indices(list(old_signers))
        self.new_ids = check_indices(list(new_party_ids))
        if not set(self.dealers) <= set(self.old_ids) or len(self.dealers) < self.old_t:
            raise InvalidInputError("dealers must be >= t holders of the old key")
        if set(self.old_X) != set(self.old_ids) or not 2 <= new_threshold <= len(self.new_ids):
            raise InvalidInputError("bad old public shares or new threshold")
        if modulus_bits < MIN_MODULUS_BITS:
            raise InvalidInputError("modulus below the minimum size (SECURITY.md P3)")
        self.me, self.t_new, self.bits = party_id, new_threshold, modulus_bits
        self.participants = sorted(set(self.dealers) | set(self.new_ids))
        if party_id not in self.participants:
            raise InvalidInputError("party takes no part in this reshare")
        self.is_dealer, self.is_new = party_id in self.dealers, party_id in self.new_ids
        if self.is_dealer and (key_share is None or key_share.party_id != party_id or
                               not point_eq(key_share.group_key, self.group_key) or
                               not point_eq(base_mul(key_share.x), self.old_X[party_id])):  # fmt: skip
            raise InvalidInputError("a dealer needs its own share of this key")
        self.share, self._preparams, self._pool = key_share, preparams, pool
        self.session_id = bytes(session_id)
        self.context = {
            "protocol": KIND,
            "key": old_public["group_key"],
            "old_parties": self.old_ids,
            "old_t": self.old_t,
            "old_epoch": self.old_epoch,
            "dealers": self.dealers,
            "new_parties": self.new_ids,
            "new_t": new_threshold,
            "bits": modulus_bits,
        }

    def steps(self) -> dict[int, Any]:
        return {1: self._r1, 2: self._r2, 3: self._r3, 4: self._r4, 5: self._r5}

    def _collect(self, inbound: Sequence[RoundMessage], rnd: int, suffix: str = "", *, broadcast: bool = True,
                 senders: Sequence[int] | None = None) -> dict[int, Any]:  # fmt: skip
        return collect(inbound, me=self.me, round_no=rnd, kind=f"{KIND}/r{rnd}{suffix}",
                       senders=self.participants if senders is None else senders, broadcast=broadcast)  # fmt: skip

    def _r1(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        if inbound:
            raise ProtocolError("unexpected_message", {m.sender for m in inbound})
        base = derive_ssid(KIND + "-base", self.session_id, self.context, {})
        payload: dict[str, Any] = {"contrib": rng.token_bytes(CONTRIBUTION_BYTES).hex()}
        st = {"round": 1, "base": base.hex()}
        if self.is_dealer:
            assert self.share is not None
            w = self.share.x * lagrange(self.me, self.dealers) % Q
            coeffs = random_poly(w, self.t_new, rng)
            rand = rng.token_bytes(32)
            payload["com"] = commit("reshare", base, self.me, _pts(feldman_commit(coeffs)), rand).hex()
            st.update(coeffs=[enc_int(c) for c in coeffs], rand=rand.hex())
        if self.is_new:
            # The pool normally has entries; if it ran dry, generate now rather than fail (slow, seconds).
            pre = self._preparams or (self._pool or PreParamsPool(bits=self.bits)).take(generate_if_empty=True, rng=rng)
            if pre.bits != self.bits:
                raise InvalidInputError("no pre-parameters of the configured size")
            st["pre"] = pre.to_json()
        msg = bcast(self.me, 1, f"{KIND}/r1", payload)
        st["own1"] = msg.payload.hex()
        return RoundOutput(dump(st), [msg])

    def _r2(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r1 = self._collect(inbound, 1)
        own = load(bytes.fromhex(st["own1"]))
        contribs = {j: contribution(o, j) for j, o in r1.items()} | {self.me: bytes.fromhex(own["contrib"])}
        coms = {}
        for j in self.dealers:
            if j == self.me:
                continue
            try:
                coms[str(j)] = bytes.fromhex(r1[j]["com"]).hex()
            except (KeyError, TypeError, ValueError):
                raise ProtocolError("malformed_payload", (j,)) from None
        ssid = derive_ssid(KIND, self.session_id, self.context, contribs)
        echo = echo_digest(payload_bytes(inbound, f"{KIND}/r1") | {self.me: bytes.fromhex(st["own1"])})
        payload: dict[str, Any] = {"echo": echo}
        out: list[RoundMessage] = []
        if self.is_dealer:
            coeffs = [dec_int(c, 256) for c in st["coeffs"]]
            payload |= {"C": [pt_hex(p) for p in feldman_commit(coeffs)], "rand": st["rand"]}
            kind = f"{KIND}/r2/share"
            out += [
                p2p(self.me, j, 2, kind, {"share": enc_int(eval_poly(coeffs, j))}) for j in self.new_ids if j != self.me
            ]
        if self.is_new:
            payload |= {"aux": make_aux(PreParams.from_json(st["pre"], trusted=True), ssid, self.me, rng)}
        out.insert(0, bcast(self.me, 2, f"{KIND}/r2", payload))
        st.update(round=2, ssid=ssid.hex(), coms=coms, own2_hash=payload_hash(out[0].payload), echo1=echo)
        return RoundOutput(dump(st), out)

    def _r3(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r2 = self._collect(inbound, 2)
        senders = self.dealers if self.is_new else []
        shares_in = self._collect(inbound, 2, "/share", broadcast=False, senders=senders)
        ssid, base = bytes.fromhex(st["ssid"]), bytes.fromhex(st["base"])
        vss: dict[int, list[Point]] = {}
        my_shares: dict[int, int] = {}
        for d in self.dealers:
            obj = r2.get(d, {})
            try:
                own_c = (
                    [pt_hex(p) for p in feldman_commit([dec_int(c, 256) for c in st["coeffs"]])]
                    if d == self.me
                    else None
                )
                cd = own_c if own_c is not None else obj["C"]
                if not isinstance(cd, list) or len(cd) != self.t_new:  # C3
                    raise ProtocolError("bad_vss_length", (d,))
                vss[d] = [pt(c) for c in cd]
            except (EncodingError, KeyError, TypeError):
                raise ProtocolError("malformed_payload", (d,)) from None
            com = bytes.fromhex(st["coms"][str(d)]) if d != self.me else b""
            if d != self.me and not open_commitment("reshare", base, d, _pts(vss[d]), obj.get("rand"), com):
                raise ProtocolError("bad_decommitment", (d,))
            # R1: the dealt secret is the dealer's Lagrange-weighted old share
            if not point_eq(vss[d][0], mul(self.old_X[d], lagrange(d, self.dealers))):
                raise ProtocolError("bad_reshare_commitment", (d,))
            if self.is_new:
                if d == self.me:
                    my_shares[d] = eval_poly([dec_int(c, 256) for c in st["coeffs"]], self.me)
                else:
                    try:
                        my_shares[d] = dec_int(shares_in[d].get("share"), 256)
                    except EncodingError:
                        raise ProtocolError("malformed_payload", (d,)) from None
                    if not feldman_verify(vss[d], self.me, my_shares[d]):
                        raise ProtocolError("invalid_share", (d,))
        new_y = add(*(c[0] for c in vss.values()))
        if not point_eq(new_y, self.group_key):  # R2
            raise ProtocolError("group_key_changed", ())
        new_x = {k: add(*(feldman_eval(c, k) for c in vss.values())) for k in self.new_ids}
        if any(p is None for p in new_x.values()):
            raise ProtocolError("degenerate_key", ())
        ack = self._ack(ssid, new_x)
        out: list[RoundMessage] = []
        payload: dict[str, Any] = {"ack": ack}
        st.update(round=3, ack=ack, X={str(k): pt_hex(v) for k, v in new_x.items() if v is not None})
        if self.is_new:
            pre = PreParams.from_json(st["pre"], trusted=True)
            aux = {j: r2[j].get("aux") for j in self.new_ids if j != self.me}
            if any(not isinstance(a, dict) for a in aux.values()):
                raise ProtocolError("malformed_payload", [j for j, a in aux.items() if not isinstance(a, dict)])
            paillier, ring = verify_aux_set(aux, pre, self.me, self.bits, ssid)  # type: ignore[arg-type]
            x = sum(my_shares.values()) % Q
            if not point_eq(base_mul(x), new_x[self.me]):
                raise ProtocolError("inconsistent_share", ())
            payload["pok_x"] = prove_dlog(x, ssid, self.me, rng, tag="reshare/x").to_wire()
            kind = f"{KIND}/r3/fac"
            out += [
                p2p(self.me, j, 3, kind, make_fac(pre, ring[j], ssid, self.me, j, rng))
                for j in self.new_ids
                if j != self.me
            ]
            st.update(
                x=enc_int(x),
                N={str(k): enc_int(v) for k, v in paillier.items()},
                ring={str(k): [enc_int(v.n), enc_int(v.s), enc_int(v.t)] for k, v in ring.items()},
            )
        check_echo(st["echo1"], r2)  # last: per-sender faults above name their sender
        payload["echo"] = echo_digest(payload_bytes(inbound, f"{KIND}/r2"), {self.me: bytes.fromhex(st["own2_hash"])})
        out.insert(0, bcast(self.me, 3, f"{KIND}/r3", payload))
        for key in ("coeffs", "rand", "coms", "own1"):
            st.pop(key, None)
        st["own3"] = out[0].payload.hex()
        return RoundOutput(dump(st), out)

    def _ack(self, ssid: bytes, new_x: dict[int, Point | None]) -> str:
        h = hashlib.sha256(b"mpc-signer/v1/reshare-ack" + ssid)
        for k in sorted(new_x):
            point = new_x[k]
            assert point is not None
            h.update(k.to_bytes(8, "big") + point.format())
        h.update(self.group_key.format())
        return h.hexdigest()

    def _r4(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r3 = self._collect(inbound, 3)
        facs = self._collect(inbound, 3, "/fac", broadcast=False, senders=self.new_ids if self.is_new else [])
        check_echo(load(bytes.fromhex(st["own3"]))["echo"], r3)
        ssid = bytes.fromhex(st["ssid"])
        new_x = {int(k): pt(v) for k, v in st["X"].items()}
        for j, o in r3.items():
            if j in self.new_ids and (
                not isinstance(o.get("ack"), str) or not hmac.compare_digest(o["ack"], st["ack"])
            ):
                raise ProtocolError("ack_mismatch", (j,))
            if j in self.new_ids:
                try:
                    pok = DlogProof.from_wire(o.get("pok_x"))
                except EncodingError:
                    raise ProtocolError("malformed_payload", (j,)) from None
                if not verify_dlog(pok, new_x[j], ssid, j, tag="reshare/x"):
                    raise ProtocolError("bad_schnorr_proof", (j,))
        if self.is_new:
            pre = PreParams.from_json(st["pre"], trusted=True)
            for j in self.new_ids:
                if j != self.me:
                    verify_fac_msg(facs[j], int(st["N"][str(j)], 16), pre, ssid, j, self.me, self.bits)
        echo = echo_digest(payload_bytes(inbound, f"{KIND}/r3") | {self.me: bytes.fromhex(st["own3"])})
        msg = bcast(self.me, 4, f"{KIND}/r4", {"echo": echo})
        st.update(round=4, echo3=echo)
        return RoundOutput(dump(st), [msg])

    def _r5(self, st: dict[str, Any], inbound: Sequence[RoundMessage], rng: Rng) -> RoundOutput:
        r4 = self._collect(inbound, 4)
        check_echo(st["echo3"], r4)  # R3: everyone saw the same ACK set
        ssid = bytes.fromhex(st["ssid"])
        new_x = {int(k): pt(v) for k, v in st["X"].items()}
        public = {
            "protocol": "gg20",
            "group_key": pt_hex(self.group_key),
            "threshold": self.t_new,
            "party_ids": self.new_ids,
            "epoch": self.old_epoch + 1,
            "public_shares": {str(k): pt_hex(v) for k, v in sorted(new_x.items())},
            "ssid": ssid.hex(),
            "retire_old_share": self.is_dealer or self.me in self.old_ids,
        }
        if not self.is_new:
            return RoundOutput(dump({"round": 5}), [], result=None, public_result=public)
        pre = PreParams.from_json(st["pre"], trusted=True)
        share = KeyShare(
            ssid=ssid,
            epoch=self.old_epoch + 1,
            threshold=self.t_new,
            party_id=self.me,
            party_ids=tuple(self.new_ids),
            x=dec_int(st["x"], 256),
            public_shares=new_x,
            group_key=self.group_key,
            paillier=pre.paillier,
            paillier_keys={int(k): PaillierPublicKey(int(v, 16)) for k, v in st["N"].items()},
            ring={int(k): RingPedersenParams(*(int(x, 16) for x in v)) for k, v in st["ring"].items()},
            bits=self.bits,
        )
        share.check_consistent()
        return RoundOutput(dump({"round": 5}), [], result=share.to_bytes(), public_result=public)
