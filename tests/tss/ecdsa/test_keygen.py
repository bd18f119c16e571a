"""Honest keygen 2-of-3 and 3-of-5, key share serialisation, index validation (I1, test row 10)."""

import pytest

from tests.tss.ecdsa.fixtures import keygen_run, preparams
from tss.ecdsa.curve import Q, add, base_mul, mul, point_eq
from tss.ecdsa.keygen import KeygenProtocol
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.poly import check_indices, lagrange
from tss.errors import EncodingError, InvalidInputError


@pytest.mark.parametrize("t,n", [(2, 3), (3, 5)])
def test_keygen_outputs_consistent_shares(t, n):
    shares, public = keygen_run(t, n)
    keys = {p["group_key"] for p in public.values()}
    assert len(keys) == 1 and len(bytes.fromhex(keys.pop())) == 33
    y = shares[1].group_key
    for i, sh in shares.items():
        assert point_eq(sh.group_key, y) and sh.threshold == t and sh.party_ids == tuple(range(1, n + 1))
        assert point_eq(base_mul(sh.x), sh.public_shares[i])
        assert set(sh.paillier_keys) == set(sh.ring) == set(range(1, n + 1))
        assert sh.paillier_keys[i].n == sh.paillier.n
    # any t shares interpolate to the secret behind Y; t-1 do not
    subset = list(range(n - t + 1, n + 1))
    secret = sum(shares[i].x * lagrange(i, subset) for i in subset) % Q
    assert point_eq(base_mul(secret), y)
    fewer = subset[1:]
    assert not point_eq(base_mul(sum(shares[i].x * lagrange(i, fewer) for i in fewer) % Q), y)
    assert point_eq(add(*(mul(shares[i].public_shares[i], lagrange(i, subset)) for i in subset)), y)


def test_key_share_roundtrip_and_repr():
    shares, _ = keygen_run(2, 3)
    sh = shares[2]
    back = KeyShare.from_bytes(sh.to_bytes())
    assert back.to_bytes() == sh.to_bytes()
    text = repr(sh) + str(sh)
    assert format(sh.x, "x") not in text and str(sh.x) not in text and str(sh.paillier.p) not in text


def test_key_share_tampered_rejected():
    import json

    shares, _ = keygen_run(2, 3)
    obj = json.loads(shares[1].to_bytes())
    obj["x"] = format((int(obj["x"], 16) + 1) % Q, "x")
    with pytest.raises(InvalidInputError):
        KeyShare.from_bytes(json.dumps(obj).encode())
    with pytest.raises(EncodingError):
        KeyShare.from_bytes(b'{"v": 1}')


@pytest.mark.parametrize(
    "ids", [[0, 1, 2], [1, 2, Q], [1, 2, 2 * Q], [1, 2, 2], [1, 2, 1 + Q], [], [1, -2, 3], [True, 2, 3]]
)
def test_bad_party_indices_rejected_before_any_evaluation(ids):
    with pytest.raises(InvalidInputError):
        check_indices(ids)
    with pytest.raises(InvalidInputError):
        KeygenProtocol(session_id=b"s", party_id=1, party_ids=ids, threshold=2, preparams=preparams(0))


@pytest.mark.parametrize("t", [0, 1, 4])
def test_bad_threshold(t):
    with pytest.raises(InvalidInputError):
        KeygenProtocol(session_id=b"s", party_id=1, party_ids=[1, 2, 3], threshold=t)


def test_small_modulus_refused():
    with pytest.raises(InvalidInputError):
        KeygenProtocol(session_id=b"s", party_id=1, party_ids=[1, 2, 3], threshold=2, modulus_bits=1024)


def test_round1_takes_preparams_from_pool():
    from tests.tss.ecdsa.fixtures import pool

    p = pool([0, 1])
    proto = KeygenProtocol(session_id=b"s", party_id=1, party_ids=[1, 2, 3], threshold=2, pool=p)
    out = proto.run_round(1, proto.initial_state(), [])
    assert len(p) == 1 and len(out.outbound) == 1 and out.outbound[0].is_broadcast
    with pytest.raises(InvalidInputError):  # rounds must run in order
        proto.run_round(3, out.state, [])


def test_state_from_other_session_refused():
    from tests.tss.ecdsa.fixtures import keygen_protocols

    a = keygen_protocols(2, 3, b"session-A")[1]
    b = keygen_protocols(2, 3, b"session-B")[1]
    with pytest.raises(InvalidInputError):
        b.run_round(1, a.initial_state(), [])
    with pytest.raises(InvalidInputError):  # another party's state
        keygen_protocols(2, 3, b"session-A")[2].run_round(1, a.initial_state(), [])
