"""Paillier keys, ciphertext validation (P6), pre-parameters and the pool format."""

import secrets

import pytest

from tests.tss.ecdsa.fixtures import FIXTURE_DIR, preparams
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.paillier import PreParams, PreParamsPool, blum_prime, generate_preparams, safe_prime
from tss.paillier.primes import is_safe_prime


def test_encrypt_decrypt_homomorphic():
    key = preparams(0).paillier
    pk = key.public
    m1, m2, k = secrets.randbelow(pk.n), secrets.randbelow(pk.n), secrets.randbelow(2**256)
    c1, _ = pk.encrypt(m1)
    c2, r2 = pk.encrypt(m2)
    assert key.decrypt(c1) == m1
    assert key.decrypt(pk.add(c1, c2)) == (m1 + m2) % pk.n
    assert key.decrypt(pk.mul(c1, k)) == m1 * k % pk.n
    assert key.encrypt_with(m2, r2) == c2  # CRT encryption agrees with the public one
    c3, _ = pk.encrypt(-5)
    assert key.decrypt_signed(c3) == -5


def test_modulus_size_and_blum_form():
    key = preparams(1).paillier
    assert key.n.bit_length() == 2048 and key.p % 4 == 3 and key.q % 4 == 3


@pytest.mark.parametrize("bad", ["zero", "n", "n2", "above", "shares_factor"])
def test_ciphertext_validation_names_sender(bad):
    key = preparams(0).paillier
    pk = key.public
    c = {"zero": 0, "n": pk.n, "n2": pk.n2, "above": pk.n2 + 5, "shares_factor": key.p * 12345}[bad]
    with pytest.raises(ProtocolError) as ei:
        pk.validate_ciphertext(c, sender=4)
    assert ei.value.culprits == (4,)
    if bad != "n2" and bad != "above":
        with pytest.raises(ProtocolError):
            key.decrypt(c)


def test_secrets_never_in_repr():
    pre = preparams(0)
    for text in (repr(pre), str(pre), repr(pre.paillier), str(pre.ring), repr(PreParamsPool([pre]))):
        for secret in (pre.paillier.p, pre.paillier.q, pre.ring.p, pre.ring.lam):
            assert format(secret, "x") not in text and str(secret) not in text


def test_pool_roundtrip_and_fifo():
    text = (FIXTURE_DIR / "preparams.jsonl").read_text()
    lines = text.splitlines()[:2]
    pool = PreParamsPool.loads("\n".join(lines) + "\n")
    assert len(pool) == 2
    assert pool.dumps().splitlines() == lines
    first = pool.take()
    assert first.to_json() == lines[0]
    pool.take()
    with pytest.raises(InvalidInputError):
        pool.take()


def test_pool_rejects_tampered_entry():
    line = preparams(0).to_json().replace('"bits": 2048', '"bits": 1024')
    with pytest.raises(InvalidInputError):
        PreParams.from_json(line)
    with pytest.raises(EncodingError):
        PreParams.from_json("{" * 20000)
    with pytest.raises(EncodingError):
        PreParams.from_json('{"v": 1}')


def test_generation_refuses_small_modulus_and_small_generation_works():
    with pytest.raises(InvalidInputError):
        generate_preparams(1024)
    pre = generate_preparams(512, allow_small=True)  # fast size, generator logic only
    pre.validate(min_bits=512)
    assert pre.ring.public.s != pre.ring.t


def test_prime_generators():
    p = blum_prime(256)
    assert p % 4 == 3 and p.bit_length() == 256
    sp = safe_prime(256)
    assert is_safe_prime(sp) and sp.bit_length() == 256
