"""Resharing 2-of-3 -> 3-of-5 -> 2-of-3 with signing after each step; malicious dealers (R1-R5)."""

import functools
import hashlib

import pytest

from tests.tss.ecdsa.fixtures import keygen_run, preparams
from tests.tss.ecdsa.harness import edit, route, run
from tests.tss.ecdsa.test_sign import check_signature
from tss.ecdsa.curve import Q, base_mul, point_eq
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol, MemoryPresignatureStore
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.reshare import ReshareProtocol
from tss.ecdsa.rounds import pt_hex
from tss.errors import InvalidInputError, ProtocolError
from tss.zk.codec import enc_int


def reshare_protos(shares, public, dealers, new_ids, new_t, pre_offset, session=b"reshare-1"):
    participants = sorted(set(dealers) | set(new_ids))
    return {
        i: ReshareProtocol(
            session_id=session,
            party_id=i,
            old_public=public,
            old_signers=dealers,
            new_party_ids=new_ids,
            new_threshold=new_t,
            key_share=shares.get(i) if i in dealers else None,
            preparams=preparams(pre_offset + new_ids.index(i)) if i in new_ids else None,
        )
        for i in participants
    }


@functools.cache
def up():
    """2-of-3 (dealers 1, 3) -> 3-of-5 (parties 1..5), fresh pre-parameters 5..9."""
    shares, publics = keygen_run(2, 3)
    outs = run(reshare_protos(shares, publics[1], [1, 3], [1, 2, 3, 4, 5], 3, 5))
    return {i: KeyShare.from_bytes(o.result) for i, o in outs.items() if o.result}, outs


def sign_gg20(shares, signers, digest, session=b"p"):
    pres = run({i: GG20PresignProtocol(session_id=session, key_share=shares[i], signers=signers) for i in signers})
    protos = {
        i: GG20SignProtocol(
            key_share=shares[i], presignature=pres[i].result, digest=digest, store=MemoryPresignatureStore()
        )
        for i in signers
    }
    sigs = {o.result for o in run(protos).values()}
    assert len(sigs) == 1
    return sigs.pop()


def test_reshare_up_keeps_group_key_and_signs():
    old, _ = keygen_run(2, 3)
    new, outs = up()
    y = old[1].group_key
    assert set(new) == {1, 2, 3, 4, 5}
    for sh in new.values():
        assert point_eq(sh.group_key, y) and sh.threshold == 3 and sh.epoch == 1
        assert sh.paillier.n not in {o.paillier.n for o in old.values()}  # fresh Paillier (R4)
    assert all(o.public_result["retire_old_share"] for i, o in outs.items() if i in (1, 3))
    digest = hashlib.sha256(b"after reshare").digest()
    check_signature(sign_gg20(new, [2, 4, 5], digest), y.format(), digest)
    # old shares cannot be mixed with new ones: x_1 changed
    assert old[1].x != new[1].x


def test_reshare_down_back_to_2_of_3():
    old, _ = keygen_run(2, 3)
    mid, outs = up()
    public = outs[1].public_result
    protos = reshare_protos(mid, public, [2, 4, 5], [1, 2, 3], 2, 0, session=b"reshare-2")
    res = run(protos)
    new = {i: KeyShare.from_bytes(o.result) for i, o in res.items() if o.result}
    assert set(new) == {1, 2, 3} and all(s.epoch == 2 and s.threshold == 2 for s in new.values())
    assert res[4].result is None and res[4].public_result["retire_old_share"]
    digest = hashlib.sha256(b"back down").digest()
    check_signature(sign_gg20(new, [1, 3], digest, b"p2"), old[1].group_key.format(), digest)


@functools.cache
def up_trace():
    shares, publics = keygen_run(2, 3)
    tr: dict = {}
    # small new committee keeps the malicious cases cheap: 2-of-3 -> 2-of-2 on parties {1, 3}
    run(reshare_protos(shares, publics[1], [1, 3], [1, 3], 2, 5, session=b"reshare-mal"), trace=tr)
    return tr


def victim_r3(msgs):
    shares, publics = keygen_run(2, 3)
    proto = reshare_protos(shares, publics[1], [1, 3], [1, 3], 2, 5, session=b"reshare-mal")[1]
    return proto.run_round(3, up_trace()[2][0][1], route(msgs, 1))


def test_dealer_changing_group_key_rejected():
    """R1/R2: a dealer whose C_{j,0} is not λ_j·X_j (e.g. a refresh that moves Y) is named."""
    msgs = up_trace()[2][1]

    def shift(o):
        o["C"][0] = pt_hex(base_mul(5))
        return o

    with pytest.raises(ProtocolError) as ei:
        victim_r3(edit(msgs, 3, "gg20/reshare/r2", shift))
    assert ei.value.culprits == (3,) and ei.value.reason in ("bad_decommitment", "bad_reshare_commitment")


def test_dealer_bad_share_rejected():
    msgs = up_trace()[2][1]

    def bump(o):
        o["share"] = enc_int((int(o["share"], 16) + 1) % Q)
        return o

    with pytest.raises(ProtocolError) as ei:
        victim_r3(edit(msgs, 3, "gg20/reshare/r2/share", bump, recipient=1))
    assert (ei.value.reason, ei.value.culprits) == ("invalid_share", (3,))


def test_new_member_bad_paillier_rejected():
    msgs = up_trace()[2][1]

    def even(o):
        o["aux"]["N"] = enc_int(int(o["aux"]["N"], 16) + 1)
        return o

    with pytest.raises(ProtocolError) as ei:
        victim_r3(edit(msgs, 3, "gg20/reshare/r2", even))
    assert ei.value.culprits == (3,)


def test_ack_mismatch_named():
    tr = up_trace()
    shares, publics = keygen_run(2, 3)
    proto = reshare_protos(shares, publics[1], [1, 3], [1, 3], 2, 5, session=b"reshare-mal")[1]
    msgs = edit(tr[3][1], 3, "gg20/reshare/r3", lambda o: {**o, "ack": "00" * 32})
    with pytest.raises(ProtocolError) as ei:
        proto.run_round(4, tr[3][0][1], route(msgs, 1))
    assert (ei.value.reason, ei.value.culprits) == ("ack_mismatch", (3,))


def test_reshare_argument_validation():
    shares, publics = keygen_run(2, 3)
    base = dict(session_id=b"s", old_public=publics[1], new_party_ids=[1, 2, 3], new_threshold=2)
    with pytest.raises(InvalidInputError):  # fewer than t dealers
        ReshareProtocol(party_id=1, old_signers=[1], key_share=shares[1], preparams=preparams(5), **base)
    with pytest.raises(InvalidInputError):  # dealer without its share
        ReshareProtocol(party_id=1, old_signers=[1, 2], preparams=preparams(5), **base)
    with pytest.raises(InvalidInputError):  # bad new threshold
        ReshareProtocol(party_id=1, old_signers=[1, 2], key_share=shares[1], **{**base, "new_threshold": 4})
