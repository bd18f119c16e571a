"""GG18 / GG20 signing against a malicious signer 2 (victim: signer 1). SECURITY.md rows 7, 8, 16, M1-M5."""

import functools
import json

import pytest

from tests.tss.ecdsa.fixtures import keygen_run, preparams
from tests.tss.ecdsa.harness import edit, payload, route, run
from tss.ecdsa.curve import Q, base_mul
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol, MemoryPresignatureStore, Presignature, combine
from tss.ecdsa.mta import bob_respond
from tss.ecdsa.poly import lagrange
from tss.ecdsa.rounds import pt_hex
from tss.errors import ProtocolError
from tss.messages import RoundMessage
from tss.rng import SystemRng
from tss.zk.codec import enc_int
from tss.zk.mta import Q3, Q7, prove_alice

VICTIM, ATTACKER = 1, 2
SIGNERS = [1, 2]
DIGEST = bytes(range(32))


def gg18_protos():
    shares, _ = keygen_run(2, 3)
    return {
        i: GG18SignProtocol(session_id=b"sign-mal", key_share=shares[i], signers=SIGNERS, digest=DIGEST)
        for i in SIGNERS
    }


def gg20_protos():
    shares, _ = keygen_run(2, 3)
    return {i: GG20PresignProtocol(session_id=b"presign-mal", key_share=shares[i], signers=SIGNERS) for i in SIGNERS}


@functools.cache
def trace(which: str):
    tr: dict = {}
    run(gg18_protos() if which == "gg18" else gg20_protos(), trace=tr)
    return tr


def victim(which: str, rnd: int, msgs, state=None):
    proto = (gg18_protos() if which == "gg18" else gg20_protos())[VICTIM]
    st = state if state is not None else trace(which)[rnd - 1][0][VICTIM]
    return proto.run_round(rnd, st, route(msgs, VICTIM))


def expect(which, rnd, msgs, reason, culprits=(ATTACKER,), state=None):
    with pytest.raises(ProtocolError) as ei:
        victim(which, rnd, msgs, state)
    assert (ei.value.reason, ei.value.culprits) == (reason, tuple(culprits)), ei.value


def setf(path, value):
    def fn(o):
        cur = o
        for k in path[:-1]:
            cur = cur[k]
        cur[path[-1]] = value
        return o

    return fn


def kind(which, suffix):
    return f"{'gg18/sign' if which == 'gg18' else 'gg20/presign'}/{suffix}"


# -- P6 / row 8 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["zero", "N", "N2", "above", "factor"])
def test_bad_k_ciphertext_rejected(case):
    key = preparams(ATTACKER - 1).paillier
    n = key.n
    c = {"zero": 0, "N": n, "N2": n * n, "above": n * n + 3, "factor": key.p * 7}[case]
    msgs = edit(trace("gg18")[1][1], ATTACKER, kind("gg18", "r1"), setf(["c"], enc_int(c)))
    expect("gg18", 2, msgs, "invalid_ciphertext")


# -- M1, Z7 / row 7: Alice's k = q³ + 1 ------------------------------------------------------------
@pytest.mark.parametrize("variant", ["honest_algorithm", "s1_reduced"])
def test_alice_k_above_q3_with_forged_range_proof(variant):
    pk = preparams(ATTACKER - 1).paillier.public
    big_k = Q3 + 1
    c, r = pk.encrypt(big_k)
    r1 = edit(trace("gg18")[1][1], ATTACKER, kind("gg18", "r1"), setf(["c"], enc_int(c)))
    out = victim("gg18", 2, r1)  # the victim accepts the (valid) ciphertext and proves its own k
    st = json.loads(out.state)
    ssid = bytes.fromhex(st["ssid"])
    shares, _ = keygen_run(2, 3)
    proof = prove_alice(pk, shares[VICTIM].ring[VICTIM], c, big_k, r, ssid, ATTACKER, VICTIM)
    assert proof.s1 > Q3
    if variant == "s1_reduced":
        import dataclasses

        proof = dataclasses.replace(proof, s1=proof.s1 % Q3)
    r2 = trace("gg18")[2][1]
    r2 = edit(r2, ATTACKER, kind("gg18", "r2/range"), setf(["proof"], proof.to_wire()), recipient=VICTIM)
    r2 = edit(r2, ATTACKER, kind("gg18", "r2"), setf(["echo"], st["echo1"]))  # consistent lie
    expect("gg18", 3, r2, "bad_range_proof", state=out.state)


# -- Z6, Z7 / row 7: Bob's responses ---------------------------------------------------------------
@pytest.mark.parametrize(
    "which_reply,field,delta,reason",
    [
        ("w", "t1", Q7, "bad_mtawc_proof"),
        ("gamma", "t1", Q7, "bad_mta_proof"),
        ("gamma", "s1", Q3, "bad_mta_proof"),
        ("w", "s2", 1, "bad_mtawc_proof"),
    ],
)
def test_bob_response_above_bound_or_altered(which_reply, field, delta, reason):
    def bump(o):
        o[which_reply]["proof"][field] = enc_int(int(o[which_reply]["proof"][field], 16) + delta)
        return o

    msgs = edit(trace("gg18")[3][1], ATTACKER, kind("gg18", "r3/mta"), bump, recipient=VICTIM)
    expect("gg18", 4, msgs, reason)


def test_mtawc_with_other_multiplicand_rejected():
    """Bob uses w + 1 with a *valid* proof for w + 1: rejected because W_2 is computed locally (M3)."""
    shares, _ = keygen_run(2, 3)
    st = json.loads(trace("gg18")[3][0][VICTIM])
    ssid, c_k = bytes.fromhex(st["ssid"]), int(st["c_k"], 16)
    w_bad = (shares[ATTACKER].x * lagrange(ATTACKER, SIGNERS) + 1) % Q
    reply, _ = bob_respond(
        shares[VICTIM].paillier.public, shares[VICTIM].ring[VICTIM], c_k, w_bad,
        ssid=ssid, bob=ATTACKER, alice=VICTIM, with_check=True, rng=SystemRng(),
    )  # fmt: skip
    msgs = edit(trace("gg18")[3][1], ATTACKER, kind("gg18", "r3/mta"), setf(["w"], reply.to_wire()), recipient=VICTIM)
    expect("gg18", 4, msgs, "bad_mtawc_proof")


def test_mta_reply_ciphertext_invalid():
    n = preparams(VICTIM - 1).paillier.n
    msgs = edit(
        trace("gg18")[3][1], ATTACKER, kind("gg18", "r3/mta"), setf(["gamma", "c"], enc_int(n)), recipient=VICTIM
    )
    expect("gg18", 4, msgs, "invalid_ciphertext")


# -- C1 / commitments and PoKs ---------------------------------------------------------------------
def test_gamma_decommitment_and_pok():
    r5 = trace("gg18")[5][1]
    other = pt_hex(base_mul(12345))
    expect("gg18", 6, edit(r5, ATTACKER, kind("gg18", "r5"), setf(["Gamma"], other)), "bad_decommitment")
    expect("gg18", 6, edit(r5, ATTACKER, kind("gg18", "r5"), setf(["rand"], "11" * 32)), "bad_decommitment")
    victim_pok = payload(r5, VICTIM, kind("gg18", "r5"))["pok"]
    expect("gg18", 6, edit(r5, ATTACKER, kind("gg18", "r5"), setf(["pok"], victim_pok)), "bad_schnorr_proof")


def test_gg18_phase5_decommitment_and_proofs():
    r7 = trace("gg18")[7][1]
    expect("gg18", 8, edit(r7, ATTACKER, kind("gg18", "r7"), setf(["V"], pt_hex(base_mul(7)))), "bad_decommitment")
    own_pv = payload(r7, VICTIM, kind("gg18", "r7"))["pv"]
    expect("gg18", 8, edit(r7, ATTACKER, kind("gg18", "r7"), setf(["pv"], own_pv)), "bad_schnorr_proof")
    r9 = trace("gg18")[9][1]
    expect("gg18", 10, edit(r9, ATTACKER, kind("gg18", "r9"), setf(["U"], pt_hex(base_mul(9)))), "bad_decommitment")


@pytest.mark.parametrize("rnd", range(1, 11))
def test_gg18_malformed_payload_each_round(rnd):
    msgs = [
        RoundMessage(m.sender, m.recipient, m.round, m.kind, m.payload[:-1]) if m.sender == ATTACKER else m
        for m in trace("gg18")[rnd][1]
    ]
    expect("gg18", rnd + 1, msgs, "malformed_payload")


def test_gg18_echo_mismatch():
    r2 = edit(trace("gg18")[2][1], ATTACKER, kind("gg18", "r2"), setf(["echo"], "ab" * 32))
    with pytest.raises(ProtocolError) as ei:
        victim("gg18", 3, r2)
    assert ei.value.reason == "broadcast_inconsistent"


def _bad_delta(cls):
    class BadDelta(cls):
        """Party 2 broadcasts a consistent but wrong δ_2 (its β sum off by one)."""

        def _r4(self, st, inbound, rng):
            st["beta"] = format((int(st["beta"], 16) + 1) % Q, "x")
            return super()._r4(st, inbound, rng)

    return BadDelta


def test_gg18_bad_delta_stops_before_s_release():
    """M4: a wrong δ_i makes the phase-5 check fail; no party ever broadcasts s_i."""
    released = []

    def spy(rnd, msgs):
        released.extend(m for m in msgs if m.kind == kind("gg18", "r10"))
        return msgs

    protos = gg18_protos()
    shares, _ = keygen_run(2, 3)
    protos[ATTACKER] = _bad_delta(GG18SignProtocol)(
        session_id=b"sign-mal", key_share=shares[ATTACKER], signers=SIGNERS, digest=DIGEST
    )
    with pytest.raises(ProtocolError) as ei:
        run(protos, tamper=spy)
    assert ei.value.reason == "phase5_check_failed" and not released


def test_gg18_bad_s_share_terminal():
    msgs = edit(trace("gg18")[10][1], ATTACKER, kind("gg18", "r10"), setf(["s"], enc_int(5)))
    with pytest.raises(ProtocolError) as ei:
        victim("gg18", 11, msgs)
    assert ei.value.reason == "invalid_signature" and "terminal" in ei.value.detail


# -- GG20 ------------------------------------------------------------------------------------------
def test_gg20_rbar_proof_rejected():
    r6 = trace("gg20")[6][1]
    expect("gg20", 7, edit(r6, ATTACKER, kind("gg20", "r6"), setf(["Rbar"], pt_hex(base_mul(3)))), "bad_rbar_proof")

    def bump(o):
        o["proof"]["s1"] = enc_int(int(o["proof"]["s1"], 16) + 1)
        return o

    expect("gg20", 7, edit(r6, ATTACKER, kind("gg20", "r6/pdl"), bump, recipient=VICTIM), "bad_rbar_proof")
    plain = edit(r6, ATTACKER, kind("gg20", "r6/pdl"), lambda o: (o["proof"].pop("y"), o)[1], recipient=VICTIM)
    expect("gg20", 7, plain, "malformed_payload")


def test_gg20_bad_s_point_named():
    """S_i not matching the committed T_i = σ_i·G + l_i·H is attributed (GG20 phase 6 proof)."""
    r6 = trace("gg20")[6][1]
    expect("gg20", 7, edit(r6, ATTACKER, kind("gg20", "r6"), setf(["S"], pt_hex(base_mul(3)))), "bad_sigma_proof")

    def bump(o):
        o["S_proof"]["z2"] = enc_int((int(o["S_proof"]["z2"], 16) + 1) % Q)
        return o

    expect("gg20", 7, edit(r6, ATTACKER, kind("gg20", "r6"), bump), "bad_sigma_proof")


def test_gg20_t_commitment_pok():
    r4 = trace("gg20")[4][1]
    victim_t = payload(r4, VICTIM, kind("gg20", "r4"))
    expect("gg20", 5, edit(r4, ATTACKER, kind("gg20", "r4"), setf(["pok_T"], victim_t["pok_T"])), "bad_schnorr_proof")
    expect("gg20", 5, edit(r4, ATTACKER, kind("gg20", "r4"), setf(["T"], pt_hex(base_mul(4)))), "bad_schnorr_proof")


def test_gg20_consistent_wrong_sigma_aborts_without_output():
    """A signer using σ_i + 1 consistently (T_i, S_i and proofs all match it) fails Σ S_j = Y (M4)."""

    class BadSigma(GG20PresignProtocol):
        def r4_extra(self, st, sigma, rng):
            return super().r4_extra(st, (sigma + 1) % Q, rng)

        def _r6(self, st, inbound, rng):
            st["sigma"] = format((int(st["sigma"], 16) + 1) % Q, "x")
            return super()._r6(st, inbound, rng)

    protos = gg20_protos()
    shares, _ = keygen_run(2, 3)
    protos[ATTACKER] = BadSigma(session_id=b"presign-mal", key_share=shares[ATTACKER], signers=SIGNERS)
    with pytest.raises(ProtocolError) as ei:
        run(protos)
    assert ei.value.reason == "sigma_check_failed"


def test_gg20_bad_delta_caught_by_rbar_check():
    protos = gg20_protos()
    shares, _ = keygen_run(2, 3)
    protos[ATTACKER] = _bad_delta(GG20PresignProtocol)(
        session_id=b"presign-mal", key_share=shares[ATTACKER], signers=SIGNERS
    )
    with pytest.raises(ProtocolError) as ei:
        run(protos)
    assert ei.value.reason == "rbar_check_failed"


def test_gg20_online_bad_share_names_signer():
    """Row 16: identifiable abort in the online phase."""
    shares, _ = keygen_run(2, 3)
    tr = trace("gg20")
    pres = {i: Presignature.from_bytes(o) for i, o in _presign_results(tr).items()}
    protos = {
        i: GG20SignProtocol(key_share=shares[i], presignature=pres[i], digest=DIGEST, store=MemoryPresignatureStore())
        for i in SIGNERS
    }
    r1 = []
    for i in SIGNERS:
        r1 += protos[i].run_round(1, protos[i].initial_state(), []).outbound
    st1 = json.dumps({"round": 1, "s": "1", "ctx": protos[VICTIM]._ctx_hash()}).encode()
    bad = edit(r1, ATTACKER, "gg20/sign/r1", setf(["s"], enc_int(12345)))
    with pytest.raises(ProtocolError) as ei:
        protos[VICTIM].run_round(2, st1, route(bad, VICTIM))
    # the victim's own share in st1 is also wrong here, so both may be named; the attacker must be
    assert ATTACKER in ei.value.culprits and ei.value.reason == "bad_signature_share"
    # with correct own share only the attacker is named
    good_s = {}
    for m in r1:
        good_s[m.sender] = int(json.loads(m.payload)["s"], 16)
    good_s[ATTACKER] = 12345
    with pytest.raises(ProtocolError) as ei:
        combine(pres[VICTIM], DIGEST, good_s)
    assert ei.value.culprits == (ATTACKER,)
    mism = edit(r1, ATTACKER, "gg20/sign/r1", setf(["presig"], "00" * 32))
    with pytest.raises(ProtocolError) as ei:
        protos[VICTIM].run_round(2, st1, route(mism, VICTIM))
    assert ei.value.culprits == (ATTACKER,) and ei.value.reason == "presignature_mismatch"


def _presign_results(tr):
    return {i: victim_final(i, tr) for i in SIGNERS}


def victim_final(pid, tr):
    proto = gg20_protos()[pid]
    return proto.run_round(7, tr[6][0][pid], route(tr[6][1], pid)).result


@pytest.mark.parametrize("rnd", range(1, 7))
def test_gg20_malformed_payload_each_round(rnd):
    msgs = [
        RoundMessage(m.sender, m.recipient, m.round, m.kind, b"[" + m.payload) if m.sender == ATTACKER else m
        for m in trace("gg20")[rnd][1]
    ]
    expect("gg20", rnd + 1, msgs, "malformed_payload")


def test_message_from_unknown_or_misrouted_sender():
    msgs = trace("gg20")[2][1]
    stranger = [RoundMessage(3, 0, 2, kind("gg20", "r2"), b"{}")]
    expect("gg20", 3, msgs + stranger, "unexpected_sender", culprits=(3,))
    wrong_round = [
        RoundMessage(m.sender, m.recipient, 5, m.kind, m.payload) if m.sender == ATTACKER else m for m in msgs
    ]
    expect("gg20", 3, wrong_round, "misrouted_message")
