"""A GG20 key's recovery from escrow on in-process nodes: the import stages each dealt share
(activities/recover_node.py, activities/recover_staging.py) and the `gg20-recover` session is authorised only for
the intent it came with.

A 2-of-3 GG20 key of n1, n2, n3 was escrowed by n2 and n3; the operator's dealer gives staged shares to n1 (which
still holds epoch 0), n4 and n5. A staged share is never a share of the key store (nothing can sign with it); every
shortcut is refused and stores nothing: a FROST package for a GG20 key, another chain or chain code than the key
pinned or the manifest lists, another protocol; the reshare of the staged shares under another intent, with other
dealers, or on a node that staged nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.authorisation import Pinned
from activities.ecdsa_protocols import EcdsaAdapter, reshare_test_epoch
from activities.node_services import NodeServices, Roster
from activities.recover_node import RecoverNode
from activities.recover_staging import STAGED, authorise_recovery, load_staged, spend_staged
from mpc import reshare_digests
from mpc.backup.escrow import public_hex_of
from mpc.backup.escrow_check import open_escrowed
from mpc.backup.manifest import MANIFEST_FILE, SIGNATURE_FILE, verify_set
from mpc.backup.recovered_share import sealed_digest
from mpc.backup.recovery import DealtKey, NewHolder, deal_key
from mpc.intent_keys import LocalIntentSigner, TrustedIntentKeys
from mpc.intents import Intent, KeyPolicy
from tests.activities.test_reshare_node import _services
from tests.backup.escrow_set import make_escrowed_set
from tests.tss.ecdsa.fixtures import keygen_run
from tss.ecdsa.staging import StagedShare
from tss.frost import get_ciphersuite, trusted_dealer_keygen
from workflows.recover_types import ImportShareInput
from workflows.rounds import HelloInput
from workflows.types import Party, ProtocolParams, ReshareParams, SessionIntent, roster_of

KEY_ID = "key-lost-ecdsa"
OLD, NEW = {"n1": 1, "n2": 2, "n3": 3}, {"n1": 1, "n4": 4, "n5": 5}
SESSION = "recover-ecdsa-1"
CHAIN_CODE = "11" * 32


@dataclasses.dataclass
class Staging:
    nodes: dict[str, NodeServices]
    parties: dict[str, Party]
    signer: LocalIntentSigner
    old_package: dict[str, Any]
    root: Path
    dealt: DealtKey

    def intent(self, *, signer: LocalIntentSigner | None = None, **changes: Any) -> SessionIntent:
        manifest = (self.root / MANIFEST_FILE).read_bytes()
        details = {"key_protocol": "gg20", "backup_id": self.root.name,
                   "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                   "old_roster": roster_of([self.parties[n] for n in OLD]), "old_package": self.old_package,
                   "new_roster": roster_of([self.parties[n] for n in NEW]), "new_threshold": 2,
                   "policy": KeyPolicy().to_dict(), "package": self.dealt.package,
                   "shares": {n: sealed_digest(s) for n, s in self.dealt.shares.items()}, "reason": None,
                   "chain_type": "ethereum", "chain_code": CHAIN_CODE, "protocol": "gg20-recover", "dealers": [1, 4],
                   **changes}
        raw = Intent(os.urandom(16).hex(), "recover", KEY_ID, 0, int(time.time()) + 600, details).to_bytes()
        return SessionIntent(raw.hex(), (signer or self.signer).sign(raw))

    def request(self, node: str, intent: SessionIntent) -> ImportShareInput:
        return ImportShareInput(
            session_id=SESSION, key_id=KEY_ID, epoch=0, new_parties=[self.parties[n] for n in NEW], new_threshold=2,
            backup_id=self.root.name, manifest=base64.b64encode((self.root / MANIFEST_FILE).read_bytes()).decode(),
            manifest_signature=(self.root / SIGNATURE_FILE).read_text(), sealed_share=self.dealt.shares[node],
            intent=intent)

    def hello(self, intent: SessionIntent, dealers: list[int] | None = None) -> HelloInput:
        params = ProtocolParams(key_id=KEY_ID, curve="secp256k1", epoch=0, threshold=2,
                                reshare=ReshareParams(dealers=dealers or [1, 4], new_participants=[1, 4, 5],
                                                      new_threshold=2))
        return HelloInput(SESSION, "recover-wf", "gg20-recover", [self.parties[n] for n in NEW], params, intent)


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    signer = LocalIntentSigner(tmp_path / "api.pem")
    trusted = TrustedIntentKeys(signer.public_keys)
    services = {n: _services(tmp_path, n, trusted) for n in ("n1", "n2", "n3", "n4", "n5")}
    parties = {n: Party(n, {**OLD, **NEW}[n], s.identity.public().ed25519, s.identity.public().x25519)
               for n, s in services.items()}
    old, _ = keygen_run(2, 3)
    package = {**old[1].public_dict(), "group_public_key": old[1].group_key_bytes.hex()}
    pinned = Pinned(tuple(roster_of([parties[n] for n in OLD])), 2, KeyPolicy(), "ethereum", CHAIN_CODE).to_public()
    services["n1"].shares.put_share(KEY_ID, 0, old[1].to_bytes(), public={"package": package, "pinned": pinned})
    recovery_key = X25519PrivateKey.generate()
    root = make_escrowed_set(tmp_path / "backup-1", key_id=KEY_ID, shares={n: old[pid] for n, pid in OLD.items()},
                             escrowed=["n2", "n3"], recipient=public_hex_of(recovery_key), sign=signer.sign,
                             signer_public=signer.public_keys[0])
    opened = open_escrowed(verify_set(root), KEY_ID, ["n2", "n3"], recovery_key)
    holders = [NewHolder(n, pid, parties[n].signing_public_key, parties[n].encryption_public_key)
               for n, pid in NEW.items()]
    return Staging(services, parties, signer, package, root, deal_key(opened, holders, threshold=2, epoch=1))


async def run(activity: Any, arg: Any) -> Any:
    return await ActivityEnvironment().run(activity, arg)


async def refused(activity: Any, arg: Any) -> str:
    with pytest.raises(ApplicationError) as caught:
        await run(activity, arg)
    assert caught.value.type == "InvalidRequest"
    return str(caught.value.details[0]["code"])


def refused_now(call: Any) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.type == "InvalidRequest"
    return str(caught.value.details[0]["code"])


async def test_staged_shares_are_kept_apart_and_never_sign(staging: Staging) -> None:
    intent = staging.intent()
    results = {n: await run(RecoverNode(staging.nodes[n]).import_share, staging.request(n, intent)) for n in NEW}
    assert len({r.ack_digest for r in results.values()}) == 1
    assert all(r.package == staging.dealt.package for r in results.values())
    again = await run(RecoverNode(staging.nodes["n4"]).import_share, staging.request("n4", intent))
    assert again.ack_digest == results["n4"].ack_digest  # a Temporal retry
    for node, pid in NEW.items():
        shares = staging.nodes[node].shares
        assert shares.epochs(KEY_ID) == ([0] if node == "n1" else [])  # nothing in the key store
        record = load_staged(staging.nodes[node].state, KEY_ID, 1)
        assert record is not None and record.package == staging.dealt.package
        assert StagedShare.from_bytes(record.share).party_id == pid
        # No test signature with it: its epoch holds no key share, so the tagged test digest finds nothing.
        digest = reshare_digests.test_message(KEY_ID, 1, results[node].ack_digest).hex()
        assert reshare_test_epoch(staging.nodes[node], ProtocolParams(KEY_ID, "secp256k1", 1, 2, digest)) is None
    assert staging.nodes["n1"].shares.active_epoch(KEY_ID) == 0  # the old epoch still signs

    # The gg20-recover session: only for the intent the share was staged under, with exactly its dealers.
    intent_id = load_staged(staging.nodes["n4"].state, KEY_ID, 1).intent_id  # type: ignore[union-attr]
    assert authorise_recovery(staging.nodes["n4"], staging.hello(intent)).intent_id == intent_id
    assert refused_now(lambda: authorise_recovery(staging.nodes["n4"], staging.hello(staging.intent()))) \
        == "intent_mismatch"  # validly signed, but not the intent n4 imported under
    assert refused_now(lambda: authorise_recovery(staging.nodes["n4"], staging.hello(intent, dealers=[4, 5]))) \
        == "intent_mismatch"
    assert refused_now(lambda: authorise_recovery(staging.nodes["n2"], staging.hello(intent))) \
        == "share_unavailable"  # staged nothing

    # Once the session stored n4's key share, the staged share is gone; a retried round is still authorised (its
    # answer is stored), but nothing can deal from the staged share again.
    spend_staged(staging.nodes["n4"].state, KEY_ID, 1)
    assert load_staged(staging.nodes["n4"].state, KEY_ID, 1).share == b""  # type: ignore[union-attr]
    hello = staging.hello(intent)
    assert authorise_recovery(staging.nodes["n4"], hello).intent_id == intent_id
    roster = Roster(hello.parties, "n4")
    assert refused_now(lambda: EcdsaAdapter._recover_setup(hello.params, roster, staging.nodes["n4"], b"s" * 32)) \
        == "share_unavailable"


async def test_every_shortcut_is_refused_and_stages_nothing(staging: Staging) -> None:
    node = RecoverNode(staging.nodes["n4"])
    _, frost = trusted_dealer_keygen(get_ciphersuite("secp256k1"), 2, [1, 4, 5])
    frost_package = {**dataclasses.replace(frost, epoch=1).to_dict(),
                     "group_public_key": staging.dealt.package["group_public_key"]}
    assert await refused(node.import_share, staging.request("n4", staging.intent(package=frost_package))) == \
        "invalid_package"
    assert await refused(node.import_share, staging.request("n4", staging.intent(chain_type="bitcoin"))) \
        == "intent_mismatch"  # not the manifest's chain
    assert await refused(node.import_share, staging.request("n4", staging.intent(key_protocol="frost"))) \
        == "intent_mismatch"
    holder = RecoverNode(staging.nodes["n1"])  # n1 still holds the key: its pinned chain code goes with it
    assert await refused(holder.import_share, staging.request("n1", staging.intent(chain_code="22" * 32))) \
        == "intent_mismatch"
    assert await refused(node.import_share, staging.request("n4", staging.intent(
        signer=LocalIntentSigner(staging.root.parent / "not-the-api.pem")))) == "unauthorized"
    for name in ("n1", "n4"):
        assert staging.nodes[name].state.list_sessions(STAGED) == []
    assert staging.nodes["n1"].shares.epochs(KEY_ID) == [0]
    assert (await run(node.import_share, staging.request("n4", staging.intent()))).ack_digest  # still goes through
