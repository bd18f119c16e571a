"""Transcript injectivity (Z2, test row 6) and Schnorr PoK binding (Z1, C2, test row 5)."""

import pytest

from tss.ecdsa.curve import Q, base_mul, random_scalar
from tss.errors import EncodingError
from tss.rng import SystemRng
from tss.zk.schnorr import DlogProof, prove_dlog, prove_two_base, verify_dlog, verify_two_base
from tss.zk.transcript import Transcript


def test_delimiter_collision_gives_different_challenges():
    # "a$" + "$" + "b" == "a" + "$" + "$b" under naive '$' joining (tss-lib KS-IOF-F-02).
    assert "$".join(["a$", "b"]) == "$".join(["a", "$b"])
    t1 = Transcript("t").bytes("m", b"a$").bytes("m", b"b")
    t2 = Transcript("t").bytes("m", b"a").bytes("m", b"$b")
    assert t1.encoded() != t2.encoded()
    assert t1.challenge_int(Q) != t2.challenge_int(Q)


def test_int_encodings_are_injective():
    pairs = [
        (Transcript("t").int("x", 1).int("x", 23), Transcript("t").int("x", 12).int("x", 3)),
        (Transcript("t").int("x", 5), Transcript("t").int("x", -5)),
        (Transcript("t").ints("v", [1, 2]), Transcript("t").ints("v", [1]).int("v", 2)),
        (Transcript("a").int("x", 1), Transcript("b").int("x", 1)),
        (Transcript("t").int("ab", 1), Transcript("t").int("a", 1)),
        (Transcript("t").int("x", 0), Transcript("t").bytes("x", b"")),
    ]
    for a, b in pairs:
        assert a.encoded() != b.encoded()
        assert a.challenge_int(Q) != b.challenge_int(Q)


def test_challenge_units_and_bits_shapes():
    tr = Transcript("t").int("x", 7)
    assert len(tr.challenge_bits(128)) == 128
    ys = tr.challenge_units(2**255 - 19, 5)
    assert len(set(ys)) == 5


def test_schnorr_roundtrip_and_replay():
    rng = SystemRng()
    x = random_scalar(rng)
    big_x = base_mul(x)
    pr = prove_dlog(x, b"session-A", 1, rng)
    assert verify_dlog(pr, big_x, b"session-A", 1)
    assert verify_dlog(DlogProof.from_wire(pr.to_wire()), big_x, b"session-A", 1)
    # An honest proof re-sent under the attacker's pid, or into another session, fails.
    assert not verify_dlog(pr, big_x, b"session-A", 2)
    assert not verify_dlog(pr, big_x, b"session-B", 1)
    # A proof with another tag (e.g. the γ_i proof) cannot stand in for the key proof.
    assert not verify_dlog(pr, big_x, b"session-A", 1, tag="other")
    assert not verify_dlog(DlogProof(pr.r, (pr.z + 1) % Q), big_x, b"session-A", 1)


def test_schnorr_wire_rejects_malformed():
    for bad in [None, {}, {"R": "00" * 33, "z": "1"}, {"R": "02" + "ff" * 32, "z": "1"}]:
        with pytest.raises(EncodingError):
            DlogProof.from_wire(bad)
    pr = prove_dlog(5, b"s", 1).to_wire()
    pr["z"] = format(Q, "x")
    with pytest.raises(EncodingError):
        DlogProof.from_wire(pr)


def test_two_base():
    rng = SystemRng()
    r_point = base_mul(random_scalar(rng))
    s, b = random_scalar(rng), random_scalar(rng)
    pr = prove_two_base(s, b, r_point, b"sid", 3, rng)
    from tss.ecdsa.curve import add, mul

    v = add(mul(r_point, s), base_mul(b))
    assert verify_two_base(pr, v, r_point, b"sid", 3)
    assert not verify_two_base(pr, v, r_point, b"sid", 2)
    assert not verify_two_base(pr, add(v, base_mul(1)), r_point, b"sid", 3)


def test_sigma_link_proof():
    from tss.ecdsa.curve import add, mul
    from tss.zk.schnorr import H, SigmaLinkProof, prove_sigma_link, verify_sigma_link

    rng = SystemRng()
    r_point = base_mul(random_scalar(rng))
    sigma, blind = random_scalar(rng), random_scalar(rng)
    s_pt, t_pt = mul(r_point, sigma), add(base_mul(sigma), mul(H, blind))
    pr = SigmaLinkProof.from_wire(prove_sigma_link(sigma, blind, r_point, b"sid", 2, rng).to_wire())
    assert verify_sigma_link(pr, r_point, s_pt, t_pt, b"sid", 2)
    assert not verify_sigma_link(pr, r_point, s_pt, t_pt, b"sid", 1)
    assert not verify_sigma_link(pr, r_point, mul(r_point, sigma + 1), t_pt, b"sid", 2)
    assert not verify_sigma_link(pr, r_point, s_pt, add(t_pt, H), b"sid", 2)
