"""Recovery from escrow, the offline dealer (pure): t escrowed shares give new shares of the same key for a new
committee, each sealed so that only its node opens it; GG20 and short escrows are clear errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mpc.backup.escrow import HPKE_SUITE, public_hex_of
from mpc.backup.escrow_check import open_escrowed
from mpc.backup.manifest import BackupSetError, verify_set
from mpc.backup.recovered_share import SealedShare
from mpc.backup.recovery import NewHolder, RecoveryError, deal_key, party_ids_for
from mpc.identity import NodeIdentity
from mpc.protocols import Family
from tests.backup.escrow_set import make_escrowed_set
from tss.frost import KeyShare, PublicKeyPackage, get_ciphersuite, trusted_dealer_keygen
from tss.shamir import interpolate_elements

API = Ed25519PrivateKey.generate()
API_PUBLIC = API.public_key().public_bytes_raw().hex()
RECOVERY = X25519PrivateKey.generate()
OLD = {"n1": 1, "n2": 2, "n3": 3}


def _sign(message: bytes) -> str:
    return API.sign(message).hex()


def _escrowed(tmp_path: Path, suite_name: str) -> tuple[Path, PublicKeyPackage]:
    suite = get_ciphersuite(suite_name)
    shares, public = trusted_dealer_keygen(suite, 2, list(OLD.values()))
    by_node = {node: shares[pid] for node, pid in OLD.items()}
    root = make_escrowed_set(tmp_path / "set-1", key_id="k1", shares=by_node, escrowed=["n2", "n3"],
                             recipient=public_hex_of(RECOVERY), sign=_sign, signer_public=API_PUBLIC)
    return root, public


def _holders(nodes: dict[str, int]) -> tuple[list[NewHolder], dict[str, NodeIdentity]]:
    identities = {n: NodeIdentity.generate(n) for n in nodes}
    return [NewHolder(n, pid, identities[n].public().ed25519, identities[n].public().x25519)
            for n, pid in nodes.items()], identities


@pytest.mark.parametrize("suite_name", ["ed25519", "secp256k1", "secp256k1-tr"])
def test_new_committee_gets_shares_of_the_same_key(tmp_path: Path, suite_name: str) -> None:
    root, old_public = _escrowed(tmp_path, suite_name)
    checked = verify_set(root, trusted_keys=[API_PUBLIC])
    opened = open_escrowed(checked, "k1", ["n2", "n3"], RECOVERY)
    holders, identities = _holders({"n1": 1, "n4": 4, "n5": 5})
    dealt = deal_key(opened, holders, threshold=2, epoch=1)
    assert not opened.shares  # the escrowed shares were dropped once dealt

    package = PublicKeyPackage.from_dict(dealt.package)  # consistent: one degree-1 polynomial through Y
    assert package.group_public_key == old_public.group_public_key and package.epoch == 1
    assert package.participants == [1, 4, 5] and package.threshold == 2
    g = package.ciphersuite.group
    new_shares = {}
    for holder in holders:
        raw = base64.b64decode(dealt.shares[holder.node_id])
        sealed = SealedShare.parse(raw)
        assert sealed.context.node_id == holder.node_id and sealed.context.party_id == holder.party_id
        assert sealed.recipient == holder.x25519
        plain = identities[holder.node_id].hpke_open(HPKE_SUITE, sealed.ciphertext, info=sealed.context.info())
        share = KeyShare.from_bytes(bytes(plain))  # s_i·G = X_i
        assert share.identifier == holder.party_id and share.public == package
        new_shares[holder.party_id] = share
        for other in holders:  # nobody else opens it
            if other.node_id != holder.node_id:
                with pytest.raises(InvalidTag):
                    identities[other.node_id].hpke_open(HPKE_SUITE, sealed.ciphertext, info=sealed.context.info())
    for pair in ((1, 4), (4, 5), (1, 5)):  # any t of the new shares give the old group key
        points = {i: g.base_mul(new_shares[i].signing_share) for i in pair}
        assert interpolate_elements(g, points) == old_public.group_public_key


def test_a_moved_sealed_share_does_not_open(tmp_path: Path) -> None:
    root, _ = _escrowed(tmp_path, "ed25519")
    opened = open_escrowed(verify_set(root), "k1", ["n2", "n3"], RECOVERY)
    holders, identities = _holders({"n1": 1, "n4": 4})
    dealt = deal_key(opened, holders, threshold=2, epoch=1)
    body = json.loads(base64.b64decode(dealt.shares["n4"]))
    body["epoch"] = 2  # the context is HPKE's info: a share re-labelled for another epoch does not decrypt
    sealed = SealedShare.parse(json.dumps(body).encode())
    with pytest.raises(InvalidTag):
        identities["n4"].hpke_open(HPKE_SUITE, sealed.ciphertext, info=sealed.context.info())


def test_wrong_recovery_key_and_short_escrow_are_clear_errors(tmp_path: Path) -> None:
    root, _ = _escrowed(tmp_path, "ed25519")
    checked = verify_set(root)
    with pytest.raises(BackupSetError, match="not to the key given") as wrong:
        open_escrowed(checked, "k1", ["n2", "n3"], X25519PrivateKey.generate())
    assert wrong.value.path == "nodes/n2/escrow/k1.json"
    one = open_escrowed(checked, "k1", ["n2"], RECOVERY)
    holders, _ = _holders({"n1": 1, "n4": 4})
    with pytest.raises(RecoveryError) as short:
        deal_key(one, holders, threshold=2, epoch=1)
    assert short.value.code == "not_enough_shares"
    two = open_escrowed(checked, "k1", ["n2", "n3"], RECOVERY)
    with pytest.raises(RecoveryError) as bad_threshold:
        deal_key(two, holders, threshold=3, epoch=1)
    assert bad_threshold.value.code == "invalid_threshold"


def test_a_gg20_key_is_dealt_as_staged_shares(tmp_path: Path) -> None:
    """A GG20 share also holds Paillier keys the dealer cannot make: each new holder gets a staged share (a plain
    Shamir share that never signs), sealed to it alone; any t of them give the key."""
    from tests.tss.ecdsa.fixtures import keygen_run
    from tss.ecdsa.curve import Q, base_mul, point_eq
    from tss.ecdsa.poly import lagrange
    from tss.ecdsa.staging import StagedShare, StagingPackage

    old, _ = keygen_run(2, 3)
    root = make_escrowed_set(tmp_path / "set-2", key_id="k-ecdsa", shares={n: old[p] for n, p in OLD.items()},
                             escrowed=["n2", "n3"], recipient=public_hex_of(RECOVERY), sign=_sign,
                             signer_public=API_PUBLIC)
    checked = verify_set(root, trusted_keys=[API_PUBLIC])
    opened = open_escrowed(checked, "k-ecdsa", ["n2", "n3"], RECOVERY)
    assert opened.family == Family.ECDSA
    holders, identities = _holders({"n1": 1, "n4": 4, "n5": 5})
    dealt = deal_key(opened, holders, threshold=2, epoch=1)
    assert not opened.shares
    package = StagingPackage.from_dict(dealt.package)  # one degree-1 polynomial through the key
    assert point_eq(package.group_key, old[1].group_key) and package.epoch == 1 and package.party_ids == (1, 4, 5)
    assert dealt.package["group_public_key"] == old[1].group_key_bytes.hex()
    staged = {}
    for holder in holders:
        sealed = SealedShare.parse(base64.b64decode(dealt.shares[holder.node_id]))
        assert sealed.context.group_public_key == dealt.package["group_public_key"]
        plain = identities[holder.node_id].hpke_open(HPKE_SUITE, sealed.ciphertext, info=sealed.context.info())
        staged[holder.party_id] = StagedShare.from_bytes(bytes(plain))  # x_i·G = X_i of the package
        assert staged[holder.party_id].package == package
    assert staged[1].x != old[1].x  # a fresh polynomial, not the old one
    secret = sum(lagrange(i, [4, 5]) * staged[i].x for i in (4, 5)) % Q
    assert point_eq(base_mul(secret), old[1].group_key)


def test_party_ids_stay_with_their_nodes() -> None:
    entry = {"holders": ["n1", "n2", "n3"], "party_ids": {"n1": 1, "n2": 2, "n3": 3}}
    assert party_ids_for(entry, ["n1", "n4", "n5"]) == {"n1": 1, "n4": 4, "n5": 5}
    assert party_ids_for({"holders": ["a", "b"]}, ["b", "c"]) == {"b": 2, "c": 3}  # keygen order
    assert party_ids_for({**entry, "next_party_id": 9}, ["n6", "n2"]) == {"n6": 9, "n2": 2}


def test_the_command_takes_gg20_keys_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    from mpc.cli.recover import _chosen_keys
    from tests.tss.ecdsa.fixtures import keygen_run

    old, _ = keygen_run(2, 3)
    root = make_escrowed_set(tmp_path / "set-2", key_id="k-ecdsa", shares={n: old[p] for n, p in OLD.items()},
                             escrowed=["n2", "n3"], recipient=public_hex_of(RECOVERY), sign=_sign,
                             signer_public=API_PUBLIC)
    assert _chosen_keys(verify_set(root), []) == (["k-ecdsa"], None)
    keys, problem = _chosen_keys(verify_set(root), ["k-missing"])
    assert keys == [] and problem is not None and "no escrowed shares" in problem
