"""Π^mod, Π^fac, Π^prm and the P3/P4 parameter checks against malicious inputs (test rows 1-4)."""

import dataclasses
import functools

import gmpy2
import pytest

from tests.tss.ecdsa.fixtures import malicious, preparams
from tss.errors import EncodingError, ProtocolError
from tss.paillier import RingPedersenParams
from tss.zk.fac import FacProof, prove_fac, verify_fac
from tss.zk.mod import MOD_REPS, ModProof, prove_mod, verify_mod
from tss.zk.params import check_modulus, check_ring_pedersen, check_unique
from tss.zk.prm import PRM_REPS, DlnProof, RingPedersenProof, prove_ring_pedersen, verify_ring_pedersen

SSID = b"ssid-zk-test"


@functools.cache
def prm_proof() -> RingPedersenProof:
    return prove_ring_pedersen(preparams(0).ring, SSID, 1)


@functools.cache
def mod_proof() -> ModProof:
    return prove_mod(preparams(0).paillier, SSID, 1)


def test_prm_valid_and_bound_to_prover():
    pub = preparams(0).ring.public
    assert verify_ring_pedersen(pub, prm_proof(), SSID, 1)
    assert not verify_ring_pedersen(pub, prm_proof(), SSID, 2)
    assert not verify_ring_pedersen(pub, prm_proof(), b"other", 1)


def _truncate(p: DlnProof, n: int) -> DlnProof:
    return DlnProof(p.e[:n], p.z[:n])


@pytest.mark.parametrize("reps", [1, 79, PRM_REPS - 1])
def test_prm_short_proofs_rejected(reps):
    pub, pr = preparams(0).ring.public, prm_proof()
    short = RingPedersenProof(_truncate(pr.s_in_t, reps), _truncate(pr.t_in_s, reps))
    assert not verify_ring_pedersen(pub, short, SSID, 1)
    with pytest.raises(EncodingError):
        RingPedersenProof.from_wire(short.to_wire(2048), 2048)


def test_prm_one_altered_entry_rejected():
    pub, pr = preparams(0).ring.public, prm_proof()
    z = list(pr.s_in_t.z)
    z[77] += 1
    assert not verify_ring_pedersen(pub, RingPedersenProof(DlnProof(pr.s_in_t.e, z), pr.t_in_s), SSID, 1)
    e = list(pr.t_in_s.e)
    e[5] ^= 1
    assert not verify_ring_pedersen(pub, RingPedersenProof(pr.s_in_t, DlnProof(e, pr.t_in_s.z)), SSID, 1)
    z = list(pr.t_in_s.z)
    z[9] = pub.n + z[9]  # out of range
    assert not verify_ring_pedersen(pub, RingPedersenProof(pr.s_in_t, DlnProof(pr.t_in_s.e, z)), SSID, 1)


def test_prm_one_direction_only_rejected():
    wire = prm_proof().to_wire(2048)
    del wire["t_in_s"]
    with pytest.raises(EncodingError):
        RingPedersenProof.from_wire(wire, 2048)
    # Re-using the first direction's proof as the second does not verify either.
    pr = prm_proof()
    assert not verify_ring_pedersen(preparams(0).ring.public, RingPedersenProof(pr.s_in_t, pr.s_in_t), SSID, 1)


def test_mod_valid_and_bound():
    n = preparams(0).paillier.n
    pr = mod_proof()
    assert verify_mod(n, pr, SSID, 1)
    assert verify_mod(n, ModProof.from_wire(pr.to_wire(2048), 2048), SSID, 1)
    assert not verify_mod(n, pr, SSID, 2)
    assert not verify_mod(preparams(1).paillier.n, pr, SSID, 1)


@pytest.mark.parametrize("reps", [1, 79])
def test_mod_short_rejected(reps):
    pr = mod_proof()
    short = ModProof(pr.w, pr.x[:reps], pr.a[:reps], pr.b[:reps], pr.z[:reps])
    assert not verify_mod(preparams(0).paillier.n, short, SSID, 1)
    with pytest.raises(EncodingError):
        ModProof.from_wire(short.to_wire(2048), 2048)


@pytest.mark.parametrize("field", ["x", "z", "a", "b"])
def test_mod_one_altered_entry_rejected(field):
    pr = mod_proof()
    vals = list(getattr(pr, field))
    vals[100] = (1 - vals[100]) if field in "ab" else vals[100] + 1
    assert not verify_mod(preparams(0).paillier.n, dataclasses.replace(pr, **{field: vals}), SSID, 1)
    assert len(vals) == MOD_REPS


def test_mod_rejects_prime_and_smooth_modulus():
    smooth = int(malicious()["smooth"]["n"], 16)
    pr = mod_proof()
    assert not verify_mod(smooth, pr, SSID, 1)
    big = int(malicious()["smooth"]["big"], 16)
    assert not verify_mod(big, pr, SSID, 1)


def test_fac_valid_and_bound_to_both_parties():
    key, rp = preparams(0).paillier, preparams(1).ring.public
    pr = prove_fac(key, rp, SSID, 1, 2)
    assert verify_fac(key.n, rp, pr, SSID, 1, 2)
    assert verify_fac(key.n, rp, FacProof.from_wire(pr.to_wire(), 2048), SSID, 1, 2)
    assert not verify_fac(key.n, rp, pr, SSID, 1, 3)
    assert not verify_fac(key.n, rp, pr, SSID, 3, 2)
    # Checked only against the verifier's own parameters (P5): other params fail.
    assert not verify_fac(key.n, preparams(2).ring.public, pr, SSID, 1, 2)


def test_fac_smooth_modulus_forged_proof_rejected():
    """BitForge N = 16 small primes × big prime: the prover "knows" p = small, q = N/p."""
    m = malicious()["smooth"]
    n = int(m["n"], 16)
    p_small = m["small_factors"][0]
    rp = preparams(1).ring.public

    class FakeKey:  # duck-typed witness with an unbalanced factorisation
        def __init__(self):
            self.p, self.q, self.n = p_small, n // p_small, n

    pr = prove_fac(FakeKey(), rp, SSID, 1, 2)  # type: ignore[arg-type]
    assert not verify_fac(n, rp, pr, SSID, 1, 2)  # z2 = β + e·q exceeds the bound
    # Forcing the responses into range breaks the equations instead.
    forged = dataclasses.replace(pr, z2=pr.z2 % (1 << 1700))
    assert not verify_fac(n, rp, forged, SSID, 1, 2)


def test_fac_response_above_bound_rejected():
    key, rp = preparams(0).paillier, preparams(1).ring.public
    pr = prove_fac(key, rp, SSID, 1, 2)
    assert not verify_fac(key.n, rp, dataclasses.replace(pr, z1=pr.z1 + (1 << 1800)), SSID, 1, 2)
    assert not verify_fac(key.n, rp, dataclasses.replace(pr, v=pr.v + 1), SSID, 1, 2)


@pytest.mark.parametrize(
    "case,reason",
    [
        ("2047", "paillier_modulus_size"),
        ("2049", "paillier_modulus_size"),
        ("even", "paillier_modulus_even"),
        ("prime", "paillier_modulus_prime"),
        ("square", "paillier_modulus_square"),
    ],
)
def test_modulus_checks_name_sender(case, reason):
    pre = preparams(0).paillier
    n = {
        "2047": pre.n >> 1 | 1,
        "2049": pre.n << 1 | 1,
        "even": pre.n + 1,
        "prime": int(gmpy2.next_prime(1 << 2047)),
        "square": preparams(0).ring.p ** 2,
    }[case]
    with pytest.raises(ProtocolError) as ei:
        check_modulus(n, 2048, 5)
    assert ei.value.reason == reason and ei.value.culprits == (5,)


def test_modulus_equal_to_other_party_ntilde_rejected():
    rp1 = preparams(0).ring.public
    with pytest.raises(ProtocolError) as ei:
        check_unique({1: preparams(0).paillier.n, 2: rp1.n}, {1: rp1, 2: preparams(1).ring.public})
    assert ei.value.culprits == (2,)


@pytest.mark.parametrize("case", ["h2_one", "h1_eq_h2", "h1_minus_one", "h1_zero", "nonresidue"])
def test_ring_pedersen_degenerate_bases(case):
    rp = preparams(0).ring.public
    n = rp.n
    bad = {
        "h2_one": RingPedersenParams(n, rp.s, 1),
        "h1_eq_h2": RingPedersenParams(n, rp.t, rp.t),
        "h1_minus_one": RingPedersenParams(n, n - 1, rp.t),
        "h1_zero": RingPedersenParams(n, 0, rp.t),
        "nonresidue": RingPedersenParams(n, next(v for v in range(2, 999) if gmpy2.jacobi(v, n) == -1), rp.t),
    }[case]
    with pytest.raises(ProtocolError) as ei:
        check_ring_pedersen(bad, 2048, 3)
    assert ei.value.culprits == (3,)


def test_ring_pedersen_reused_h1_rejected():
    a, b = preparams(0).ring.public, preparams(1).ring.public
    copied = RingPedersenParams(b.n, a.s, b.t)
    with pytest.raises(ProtocolError) as ei:
        check_unique({1: preparams(0).paillier.n, 2: preparams(1).paillier.n}, {1: a, 2: copied})
    assert ei.value.culprits == (2,) and ei.value.reason == "parameter_reused"


def test_valid_params_pass():
    check_ring_pedersen(preparams(0).ring.public, 2048, 1)
    check_modulus(preparams(0).paillier.n, 2048, 1)
    check_unique({i: preparams(i).paillier.n for i in range(3)}, {i: preparams(i).ring.public for i in range(3)})
