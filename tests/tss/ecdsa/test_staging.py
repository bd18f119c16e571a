"""Recovery of a GG20 key from a staged sharing (tss.ecdsa.staging): the dealt plain shares turn into complete key
shares through the reshare, which sign under the same group key; a staged sharing that is off its polynomial, a
staged share that is not its public share's, or a dealer whose share is not in the package are refused."""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import pytest

from tests.tss.ecdsa.fixtures import keygen_run, preparams
from tests.tss.ecdsa.harness import run
from tests.tss.ecdsa.test_reshare import sign_gg20
from tests.tss.ecdsa.test_sign import check_signature
from tss.ecdsa.curve import Q, add, base_mul, point_eq
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.poly import lagrange
from tss.ecdsa.reshare import ReshareProtocol
from tss.ecdsa.staging import StagedShare, StagingPackage, deal_staged
from tss.errors import EncodingError, InvalidInputError

NEW = [1, 4, 5]
PRE_OFFSET = 12  # committed pre-parameter sets 12..14: none of keygen_run's (0..2) nor test_reshare's (5..9)


def _secret() -> int:
    old, _ = keygen_run(2, 3)
    return sum(lagrange(i, [2, 3]) * old[i].x for i in (2, 3)) % Q  # what the escrowed shares of 2 and 3 give


def _recover(staged: dict[int, StagedShare], package: StagingPackage, dealers: list[int]) -> dict[int, KeyShare]:
    protos = {i: ReshareProtocol(session_id=b"recover-1", party_id=i, old_public=package.reshare_source(0),
                                 old_signers=dealers, new_party_ids=NEW, new_threshold=2,
                                 key_share=staged[i] if i in dealers else None,
                                 preparams=preparams(PRE_OFFSET + NEW.index(i)))
              for i in NEW}
    return {i: KeyShare.from_bytes(o.result) for i, o in run(protos).items() if o.result}


@functools.cache
def _recovered() -> tuple[dict[int, StagedShare], StagingPackage, dict[int, KeyShare]]:
    staged, package = deal_staged(_secret(), 2, NEW, epoch=1)
    return staged, package, _recover(staged, package, [1, 4])


def test_staged_shares_become_key_shares_that_sign_under_the_same_key() -> None:
    old, _ = keygen_run(2, 3)
    staged, package, new = _recovered()
    assert point_eq(package.group_key, old[1].group_key)
    assert StagedShare.from_bytes(staged[4].to_bytes()) == staged[4]
    assert set(new) == set(NEW)
    for pid, share in new.items():
        assert share.epoch == 1 and share.threshold == 2 and point_eq(share.group_key, old[1].group_key)
        assert share.x != staged[pid].x  # a new polynomial: the dealer never saw these shares
        assert set(share.paillier_keys) == set(NEW) and set(share.ring) == set(NEW)  # every peer's, with proofs
    digest = hashlib.sha256(b"after the recovery").digest()
    for signers in ([4, 5], [1, 5]):
        check_signature(sign_gg20(new, signers, digest, session=bytes(signers)), old[1].group_key.format(), digest)


def test_a_staged_sharing_off_its_polynomial_is_refused() -> None:
    _, package, _ = _recovered()
    data = package.to_dict()
    moved = dict(data["public_shares"], **{"5": data["public_shares"]["4"]})
    with pytest.raises(InvalidInputError):
        StagingPackage.from_dict({**data, "public_shares": moved})
    other = base_mul(7)
    assert other is not None
    with pytest.raises(InvalidInputError):  # another group key
        dataclasses.replace(package, group_key=add(package.group_key, other)).validate()
    with pytest.raises(EncodingError):  # a key's public record is not a staged package
        StagingPackage.from_dict({**data, "format": "gg20"})
    with pytest.raises(InvalidInputError):
        package.reshare_source(1)  # the staged sharing starts epoch 1: it stands in for epoch 0


def test_a_staged_share_must_be_its_public_share() -> None:
    staged, package, _ = _recovered()
    wrong = StagedShare(4, (staged[4].x + 1) % Q, package)
    with pytest.raises(InvalidInputError):
        wrong.check()
    with pytest.raises(InvalidInputError):
        StagedShare.from_bytes(wrong.to_bytes())
    with pytest.raises(InvalidInputError, match="a dealer needs its own share"):
        ReshareProtocol(session_id=b"r", party_id=4, old_public=package.reshare_source(0), old_signers=[1, 4],
                        new_party_ids=NEW, new_threshold=2, key_share=wrong, preparams=preparams(PRE_OFFSET))
