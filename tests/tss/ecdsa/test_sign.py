"""Honest GG18 signing and GG20 presign + online signing, verified by independent verifiers."""

import functools
import hashlib

import pytest
from coincurve import PublicKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from tests.tss.ecdsa.fixtures import keygen_run
from tests.tss.ecdsa.harness import run
from tss.ecdsa.curve import Q
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import (
    GG20PresignProtocol,
    GG20SignProtocol,
    MemoryPresignatureStore,
    Presignature,
    PresignaturePublic,
    combine_public,
    sign_share,
)
from tss.ecdsa.signature import EcdsaSignature
from tss.errors import EncodingError, InvalidInputError, NonceReuseError, ProtocolError

CASES = [((2, 3), [1, 3]), ((3, 5), [2, 3, 5])]


def check_signature(sig_bytes: bytes, group_key: bytes, digest: bytes) -> EcdsaSignature:
    sig = EcdsaSignature(int.from_bytes(sig_bytes[:32], "big"), int.from_bytes(sig_bytes[32:64], "big"), sig_bytes[64])
    assert 0 < sig.s <= Q // 2  # low-s
    # libsecp256k1: recovery and plain verification of the prehashed digest
    assert PublicKey.from_signature_and_message(sig_bytes, digest, hasher=None).format() == group_key
    assert PublicKey(group_key).verify(sig.to_der(), digest, hasher=None)
    # OpenSSL via cryptography
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), group_key)
    pub.verify(encode_dss_signature(sig.r, sig.s), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    return sig


def eth_address(group_key: bytes) -> str:
    return to_checksum_address(keccak(PublicKey(group_key).format(compressed=False)[1:])[-20:])


@functools.cache
def presign(t: int, n: int, signers: tuple[int, ...], session: bytes = b"presign-1"):
    shares, _ = keygen_run(t, n)
    protos = {i: GG20PresignProtocol(session_id=session, key_share=shares[i], signers=list(signers)) for i in signers}
    outs = run(protos)
    return {i: o.result for i, o in outs.items()}, {i: o.public_result for i, o in outs.items()}


@pytest.mark.parametrize("tn,signers", CASES)
def test_gg18_sign(tn, signers):
    shares, _ = keygen_run(*tn)
    digest = keccak(b"gg18 message")
    protos = {
        i: GG18SignProtocol(session_id=b"sign-1", key_share=shares[i], signers=signers, digest=digest) for i in signers
    }
    outs = run(protos)
    sigs = {o.result for o in outs.values()}
    assert len(sigs) == 1
    y = shares[signers[0]].group_key_bytes
    sig = check_signature(sigs.pop(), y, digest)
    assert Account._recover_hash(digest, vrs=(sig.v + 27, sig.r, sig.s)) == eth_address(y)


@pytest.mark.parametrize("tn,signers", CASES)
def test_gg20_presign_and_online(tn, signers):
    shares, _ = keygen_run(*tn)
    pres, public = presign(*tn, tuple(signers))
    assert len({p["R"] for p in public.values()}) == 1
    digest = hashlib.sha256(b"gg20 message").digest()
    stores = {i: MemoryPresignatureStore() for i in signers}
    protos = {
        i: GG20SignProtocol(key_share=shares[i], presignature=pres[i], digest=digest, store=stores[i]) for i in signers
    }
    outs = run(protos)
    sigs = {o.result for o in outs.values()}
    assert len(sigs) == 1
    check_signature(sigs.pop(), shares[signers[0]].group_key_bytes, digest)
    # N2: a second use of the same presignature is refused, even for the same digest
    for i in signers:
        with pytest.raises(NonceReuseError):
            sign_share(Presignature.from_bytes(pres[i]), shares[i], digest, stores[i])
        again = GG20SignProtocol(key_share=shares[i], presignature=pres[i], digest=bytes(32), store=stores[i])
        with pytest.raises(NonceReuseError):
            again.run_round(1, again.initial_state(), [])


def test_presignature_bound_to_key_and_epoch():
    import dataclasses

    shares, _ = keygen_run(2, 3)
    pres, _ = presign(2, 3, (1, 3))
    presig = Presignature.from_bytes(pres[1])
    assert str(presig.k) not in repr(presig) and str(presig.sigma) not in repr(presig)
    other_epoch = dataclasses.replace(shares[1], epoch=1)
    with pytest.raises(InvalidInputError):
        sign_share(presig, other_epoch, bytes(32), MemoryPresignatureStore())
    with pytest.raises(InvalidInputError):  # another party's share
        sign_share(presig, shares[3], bytes(32), MemoryPresignatureStore())
    other_key, _ = keygen_run(3, 5)
    with pytest.raises(InvalidInputError):
        sign_share(presig, other_key[1], bytes(32), MemoryPresignatureStore())
    with pytest.raises(InvalidInputError):
        sign_share(presig, shares[1], b"short", MemoryPresignatureStore())
    with pytest.raises(InvalidInputError):  # bound to key id "" at presign time
        sign_share(presig, shares[1], bytes(32), MemoryPresignatureStore(), key_id="another-key")
    with pytest.raises(InvalidInputError):
        GG20SignProtocol(
            key_share=shares[1], presignature=pres[1], digest=bytes(32), store=MemoryPresignatureStore(), key_id="k2"
        )


def test_signer_set_validation():
    shares, _ = keygen_run(2, 3)
    for signers in ([1], [2, 3], [1, 4], [1, 1]):
        with pytest.raises(InvalidInputError):
            GG18SignProtocol(session_id=b"s", key_share=shares[1], signers=signers, digest=bytes(32))
    with pytest.raises(InvalidInputError):
        GG18SignProtocol(session_id=b"s", key_share=shares[1], signers=[1, 2], digest=bytes(31))


@pytest.mark.parametrize("tn,signers", CASES)
def test_gg20_online_shares_combine_from_public_data_only(tn, signers):
    """The pool's path: each signer's s_i, combined by someone holding only the presignature's public record
    (R, R̄_j, S_j, which every signer reports identically) and the group key; a wrong s_j is named."""
    shares, _ = keygen_run(*tn)
    pres, public = presign(*tn, tuple(signers), session=b"presign-public")
    record = next(iter(public.values()))
    assert all(p == record for p in public.values())  # every signer reports the same public record
    assert set(record) >= {"presig_id", "R", "Rbar", "S", "signers"}
    presig_secrets = {str(Presignature.from_bytes(pres[i]).k) for i in signers}
    assert not any(secret in repr(record) for secret in presig_secrets)  # nothing secret in it
    group_key = shares[signers[0]].group_key
    view = PresignaturePublic.from_dict(record, group_key)
    digest = hashlib.sha256(b"pooled gg20").digest()
    s = {i: sign_share(Presignature.from_bytes(pres[i]), shares[i], digest, MemoryPresignatureStore())
         for i in signers}
    sig = combine_public(view, digest, s)
    check_signature(sig.to_bytes(), shares[signers[0]].group_key_bytes, digest)

    cheat = signers[-1]
    with pytest.raises(ProtocolError) as wrong:
        combine_public(view, digest, {**s, cheat: (s[cheat] + 1) % Q})
    assert wrong.value.reason == "bad_signature_share" and wrong.value.culprits == (cheat,)
    with pytest.raises(ProtocolError) as missing:
        combine_public(view, digest, {i: v for i, v in s.items() if i != cheat})
    assert missing.value.reason == "missing_message"
    with pytest.raises(ProtocolError):  # shares for another digest do not combine
        combine_public(view, hashlib.sha256(b"other").digest(), s)
    for broken in ({**record, "R": "02" + "00" * 32}, {**record, "Rbar": {}}, {**record, "S": "garbage"},
                   {k: v for k, v in record.items() if k != "Rbar"}):
        with pytest.raises(EncodingError):
            PresignaturePublic.from_dict(broken, group_key)
