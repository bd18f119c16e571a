"""MtA range proofs (GG18 App. A): bounds (Z6/Z7, row 7), parameter binding (P5), transcript (Z1)."""

import dataclasses
import functools
import secrets

from tests.tss.ecdsa.fixtures import preparams
from tss.ecdsa.curve import Q, base_mul
from tss.zk.mta import Q3, Q5, Q7, prove_alice, prove_bob, verify_alice, verify_bob

SSID = b"mta-test"


@functools.cache
def setup():
    alice, bob = preparams(0), preparams(1)
    pk = alice.paillier.public
    k = secrets.randbelow(Q)
    c, r = pk.encrypt(k)
    return alice, bob, pk, k, c, r


def test_alice_proof_binds_verifier_params_and_parties():
    alice, bob, pk, k, c, r = setup()
    pr = prove_alice(pk, bob.ring.public, c, k, r, SSID, 1, 2)
    assert verify_alice(pk, bob.ring.public, c, pr, SSID, 1, 2)
    assert not verify_alice(pk, alice.ring.public, c, pr, SSID, 1, 2)  # P5: only the verifier's own params
    assert not verify_alice(pk, bob.ring.public, c, pr, SSID, 1, 3)
    assert not verify_alice(pk, bob.ring.public, c, pr, b"other", 1, 2)
    assert not verify_alice(pk, bob.ring.public, pk.add(c, c), pr, SSID, 1, 2)


def test_alice_k_above_q3():
    _, bob, pk, _, _, _ = setup()
    big = Q3 + 1
    c, r = pk.encrypt(big)
    pr = prove_alice(pk, bob.ring.public, c, big, r, SSID, 1, 2)
    assert pr.s1 > Q3 and not verify_alice(pk, bob.ring.public, c, pr, SSID, 1, 2)
    assert not verify_alice(pk, bob.ring.public, c, dataclasses.replace(pr, s1=pr.s1 % Q3), SSID, 1, 2)


def test_alice_each_field_checked():
    _, bob, pk, k, c, r = setup()
    pr = prove_alice(pk, bob.ring.public, c, k, r, SSID, 1, 2)
    for field in ("z", "u", "w", "s", "s1", "s2"):
        assert not verify_alice(
            pk, bob.ring.public, c, dataclasses.replace(pr, **{field: getattr(pr, field) + 1}), SSID, 1, 2
        )
    assert not verify_alice(pk, bob.ring.public, c, dataclasses.replace(pr, s=0), SSID, 1, 2)


@functools.cache
def bob_setup():
    alice, _, pk, _, c1, _ = setup()
    x, y = secrets.randbelow(Q), secrets.randbelow(Q5)
    ce, r = pk.encrypt(y)
    c2 = pk.add(pk.mul(c1, x), ce)
    pr = prove_bob(pk, alice.ring.public, c1, c2, x, y, r, SSID, 2, 1, with_check=True)
    return alice, pk, c1, c2, x, pr


def test_bob_proof_and_bounds():
    alice, pk, c1, c2, x, pr = bob_setup()
    rp = alice.ring.public
    assert verify_bob(pk, rp, c1, c2, pr, SSID, 2, 1, big_x=base_mul(x))
    assert alice.paillier.decrypt(c2) < Q7  # α = k·x + y never wraps mod N
    assert not verify_bob(pk, rp, c1, c2, pr, SSID, 2, 1)  # the check cannot be dropped
    assert not verify_bob(pk, rp, c1, c2, dataclasses.replace(pr, s1=pr.s1 + Q3), SSID, 2, 1, big_x=base_mul(x))
    assert not verify_bob(pk, rp, c1, c2, dataclasses.replace(pr, t1=Q7 + 1), SSID, 2, 1, big_x=base_mul(x))
    for field in ("z", "z_prime", "t", "v", "w", "s", "s2", "t2"):
        bad = dataclasses.replace(pr, **{field: getattr(pr, field) + 1})
        assert not verify_bob(pk, rp, c1, c2, bad, SSID, 2, 1, big_x=base_mul(x)), field
    assert not verify_bob(pk, rp, c1, c2, dataclasses.replace(pr, u=base_mul(5)), SSID, 2, 1, big_x=base_mul(x))
