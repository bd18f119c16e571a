"""Keygen against a malicious party 2 (victim: party 1). SECURITY.md test rows 1-5, 9, 13.

The honest 2-of-3 run is cached; each case rewrites party 2's messages of one round and replays
only the victim's next round, which must raise `ProtocolError` naming party 2 and return no state
(nothing from the message is persisted).
"""

import json

import gmpy2
import pytest

from tests.tss.ecdsa.fixtures import TRACES, keygen_protocols, keygen_run, malicious, preparams
from tests.tss.ecdsa.harness import edit, payload, route
from tss.errors import ProtocolError
from tss.messages import RoundMessage
from tss.zk.codec import dec_fixed_list, enc_fixed_list, enc_int

VICTIM, ATTACKER = 1, 2


def _trace():
    keygen_run(2, 3)
    return TRACES[(2, 3)]


def victim_round(rnd: int, msgs: list[RoundMessage]):
    """Run the victim's round `rnd` on (possibly tampered) messages of round rnd-1."""
    states, _ = _trace()[rnd - 1]
    proto = keygen_protocols(2, 3)[VICTIM]
    return proto.run_round(rnd, states[VICTIM], route(msgs, VICTIM))


def expect_reject(rnd: int, msgs, reason: str | None = None, culprits=(ATTACKER,)):
    with pytest.raises(ProtocolError) as ei:
        victim_round(rnd, msgs)
    assert ei.value.culprits == tuple(culprits), ei.value
    if reason:
        assert ei.value.reason == reason, ei.value
    return ei.value


def r2_edit(fn, kind="keygen/r2"):
    _, msgs = _trace()[2]
    return edit(msgs, ATTACKER, kind, fn, recipient=VICTIM if kind.endswith("share") else None)


def set_field(key, value):
    def fn(obj):
        obj[key] = value
        return obj

    return fn


def test_honest_messages_pass_victim_round3():
    out = victim_round(3, _trace()[2][1])
    assert out.outbound


# -- P1 / test row 1 -------------------------------------------------------------------------------
def test_smooth_paillier_modulus_rejected():
    smooth = int(malicious()["smooth"]["n"], 16)
    expect_reject(3, r2_edit(set_field("N", enc_int(smooth))), "bad_mod_proof")


def test_fac_proof_absent_rejected():
    _, msgs = _trace()[3]
    dropped = [m for m in msgs if not (m.sender == ATTACKER and m.kind == "keygen/r3/fac" and m.recipient == VICTIM)]
    expect_reject(4, dropped, "missing_message")


def test_fac_proof_for_other_verifier_rejected():
    _, msgs = _trace()[3]
    other = payload(msgs, ATTACKER, "keygen/r3/fac", recipient=3)
    expect_reject(4, edit(msgs, ATTACKER, "keygen/r3/fac", lambda o: other, recipient=VICTIM), "bad_fac_proof")


def test_fac_proof_altered_rejected():
    _, msgs = _trace()[3]

    def alter(o):
        o["fac"]["z1"] = enc_int(int(o["fac"]["z1"], 16) + 1)
        return o

    expect_reject(4, edit(msgs, ATTACKER, "keygen/r3/fac", alter, recipient=VICTIM), "bad_fac_proof")


# -- P3 / test row 2 -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["2047", "even", "prime", "equals_victim_ntilde", "square"])
def test_bad_paillier_modulus_rejected(case):
    n = preparams(ATTACKER - 1).paillier.n
    bad = {
        "2047": n >> 1 | 1,
        "even": n + 1,
        "prime": int(gmpy2.next_prime(n)),
        "equals_victim_ntilde": preparams(VICTIM - 1).ring.n,
        "square": int(gmpy2.next_prime((1 << 1023) + (1 << 1022))) ** 2,
    }[case]
    expect_reject(3, r2_edit(set_field("N", enc_int(bad))))


# -- P4 / test row 3 -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["h2_one", "h1_eq_h2", "h1_minus_one", "h1_reused", "ntilde_2047"])
def test_bad_ring_pedersen_rejected(case):
    rp = preparams(ATTACKER - 1).ring.public
    victim = preparams(VICTIM - 1).ring.public
    n, s, t = rp.n, rp.s, rp.t
    vals = {
        "h2_one": (n, s, 1),
        "h1_eq_h2": (n, t, t),
        "h1_minus_one": (n, n - 1, t),
        "h1_reused": (n, victim.s, t),
        "ntilde_2047": (n >> 1 | 1, s, t),
    }[case]
    expect_reject(3, r2_edit(set_field("ring", [enc_int(v) for v in vals])))


def test_one_dln_direction_only_rejected():
    def drop(o):
        del o["prm"]["t_in_s"]
        return o

    expect_reject(3, r2_edit(drop), "malformed_payload")


# -- Z4 / test row 4 -------------------------------------------------------------------------------
@pytest.mark.parametrize("reps", [1, 79])
@pytest.mark.parametrize("proof", ["mod", "prm"])
def test_short_proofs_rejected(proof, reps):
    def cut(o):
        if proof == "mod":
            for k in ("x", "z"):
                o["mod"][k] = enc_fixed_list(dec_fixed_list(o["mod"][k], 128, 256)[:reps], 256)
            for k in ("a", "b"):
                o["mod"][k] = o["mod"][k][:reps]
        else:
            for d in ("s_in_t", "t_in_s"):
                o["prm"][d]["e"] = o["prm"][d]["e"][:reps]
                o["prm"][d]["z"] = enc_fixed_list(dec_fixed_list(o["prm"][d]["z"], 128, 256)[:reps], 256)
        return o

    expect_reject(3, r2_edit(cut), "malformed_payload")


@pytest.mark.parametrize("proof", ["mod", "prm"])
def test_one_altered_entry_rejected(proof):
    def alter(o):
        if proof == "mod":
            z = dec_fixed_list(o["mod"]["z"], 128, 256)
            z[64] += 1
            o["mod"]["z"] = enc_fixed_list(z, 256)
        else:
            z = dec_fixed_list(o["prm"]["t_in_s"]["z"], 128, 256)
            z[127] += 1
            o["prm"]["t_in_s"]["z"] = enc_fixed_list(z, 256)
        return o

    expect_reject(3, r2_edit(alter), f"bad_{proof}_proof")


# -- Z1, C2 / test row 5 ---------------------------------------------------------------------------
def test_schnorr_pok_replayed_under_other_pid_rejected():
    _, msgs = _trace()[2]
    honest = payload(msgs, 3, "keygen/r2")
    expect_reject(3, r2_edit(set_field("pok", honest["pok"])), "bad_schnorr_proof")


def test_package_from_other_session_rejected():
    """Party 2 replays its round-1/round-2 messages of the cached session A into session B."""
    _, a1 = _trace()[1]
    _, a2 = _trace()[2]
    protos = keygen_protocols(2, 3, b"session-B")
    honest = [1, 3]
    states = {i: protos[i].initial_state() for i in honest}
    r1 = []
    for i in honest:
        out = protos[i].run_round(1, states[i], [])
        states[i] = out.state
        r1 += out.outbound
    r1 += [m for m in a1 if m.sender == ATTACKER]
    r2 = []
    for i in honest:
        out = protos[i].run_round(2, states[i], route(r1, i))
        states[i] = out.state
        r2 += out.outbound
    r2 += [m for m in a2 if m.sender == ATTACKER]
    with pytest.raises(ProtocolError) as ei:
        protos[VICTIM].run_round(3, states[VICTIM], route(r2, VICTIM))
    assert ei.value.culprits == (ATTACKER,)


# -- C3, C4 / test row 9 ---------------------------------------------------------------------------
@pytest.mark.parametrize("length", [3, 1, 0])
def test_feldman_vector_wrong_length_rejected(length):
    _, msgs = _trace()[2]
    c = payload(msgs, ATTACKER, "keygen/r2")["C"]
    vec = (c + c)[:length]
    expect_reject(3, r2_edit(set_field("C", vec)), "bad_vss_length")


def test_inconsistent_share_rejected():
    def bump(o):
        o["share"] = enc_int(int(o["share"], 16) + 1)
        return o

    expect_reject(3, r2_edit(bump, kind="keygen/r2/share"), "invalid_share")


def test_bad_decommitment_rejected():
    expect_reject(3, r2_edit(set_field("rand", "00" * 32)), "bad_decommitment")


def test_identity_or_invalid_point_rejected():
    _, msgs = _trace()[2]
    c = payload(msgs, ATTACKER, "keygen/r2")["C"]
    expect_reject(3, r2_edit(set_field("C", ["02" + "ff" * 32, c[1]])), "malformed_payload")


# -- C5 / test row 13 ------------------------------------------------------------------------------
def test_equivocated_broadcast_detected_by_echo():
    """Party 2 sent the victim a different round-1 commitment than the others saw."""
    _, msgs = _trace()[2]
    tampered = edit(msgs, 3, "keygen/r2", set_field("echo", "00" * 32))
    err = expect_reject(3, tampered, "broadcast_inconsistent", culprits=())
    assert "3" in err.detail


@pytest.mark.parametrize("rnd", [1, 2, 3])
def test_malformed_payload_each_round(rnd):
    _, msgs = _trace()[rnd]
    garbled = [
        RoundMessage(m.sender, m.recipient, m.round, m.kind, b"\xff" + m.payload) if m.sender == ATTACKER else m
        for m in msgs
    ]
    expect_reject(rnd + 1, garbled, "malformed_payload")


def test_missing_and_duplicate_messages():
    _, msgs = _trace()[2]
    expect_reject(3, [m for m in msgs if m.sender != ATTACKER], "missing_message")
    dup = [m for m in msgs if m.sender == ATTACKER and m.kind == "keygen/r2"]
    expect_reject(3, msgs + dup, "duplicate_message")


def test_json_state_never_holds_peer_data_after_rejection():
    smooth = int(malicious()["smooth"]["n"], 16)
    with pytest.raises(ProtocolError):
        victim_round(3, r2_edit(set_field("N", enc_int(smooth))))
    # the victim's persisted state is still the round-2 one, without the rejected N
    states, _ = _trace()[2]
    assert format(smooth, "x") not in json.dumps(json.loads(states[VICTIM]))
