"""A recovery from escrow on in-process nodes (activities/recover_node.py, then the reshare's phase two).

A 2-of-3 key of n1, n2, n3 was escrowed by n2 and n3; n2 and n3 are lost. The operator's dealer gives new
shares to n1 (which still holds epoch 0), n4 and n5; each imports its sealed share (stored inactive), they ACK,
test-sign and activate, and n3, should it come back, erases its old share on the recover intent's proof. Every
shortcut is refused and leaves nothing stored: another node's sealed share, a manifest the API did not sign, an
intent that is not `recover`, a package of another key, an old roster that is not the one n1 pinned.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.authorisation import Pinned
from activities.recover_node import RecoverNode
from activities.reshare_node import ReshareNode
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
from tss.frost import get_ciphersuite, trusted_dealer_keygen, verify
from workflows.recover_types import ImportShareInput
from workflows.types import Party, ReshareStep, SessionIntent, roster_of

KEY_ID = "key-lost"
OLD, NEW = {"n1": 1, "n2": 2, "n3": 3}, {"n1": 1, "n4": 4, "n5": 5}
SESSION = "recover-session-1"


@dataclasses.dataclass
class Recovery:
    nodes: dict[str, Any]  # services
    parties: dict[str, Party]
    signer: LocalIntentSigner
    old_public: Any
    root: Path
    dealt: DealtKey

    def intent(self, *, operation: str = "recover", signer: LocalIntentSigner | None = None,
               **changes: Any) -> SessionIntent:
        manifest = (self.root / MANIFEST_FILE).read_bytes()
        policy = KeyPolicy().to_dict()
        details = {"key_protocol": "frost", "backup_id": self.root.name,
                   "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                   "old_roster": roster_of([self.parties[n] for n in OLD]), "old_package": self.old_public.to_dict(),
                   "new_roster": roster_of([self.parties[n] for n in NEW]), "new_threshold": 2, "policy": policy,
                   "package": self.dealt.package,
                   "shares": {n: sealed_digest(s) for n, s in self.dealt.shares.items()}, "reason": None,
                   "chain_type": "ed25519", "chain_code": None,
                   **changes}
        raw = Intent(os.urandom(16).hex(), operation, KEY_ID, 0, int(time.time()) + 600, details).to_bytes()
        return SessionIntent(raw.hex(), (signer or self.signer).sign(raw))

    def request(self, node: str, intent: SessionIntent, **changes: Any) -> ImportShareInput:
        fields: dict[str, Any] = {
            "session_id": SESSION, "key_id": KEY_ID, "epoch": 0, "new_parties": [self.parties[n] for n in NEW],
            "new_threshold": 2, "backup_id": self.root.name,
            "manifest": base64.b64encode((self.root / MANIFEST_FILE).read_bytes()).decode(),
            "manifest_signature": (self.root / SIGNATURE_FILE).read_text(), "sealed_share": self.dealt.shares[node],
            "intent": intent}
        return ImportShareInput(**{**fields, **changes})


@pytest.fixture
def recovery(tmp_path: Path) -> Recovery:
    signer = LocalIntentSigner(tmp_path / "api.pem")
    trusted = TrustedIntentKeys(signer.public_keys)
    services = {n: _services(tmp_path, n, trusted) for n in ("n1", "n2", "n3", "n4", "n5")}
    parties = {n: Party(n, {**OLD, **NEW}[n], s.identity.public().ed25519, s.identity.public().x25519)
               for n, s in services.items()}
    shares, public = trusted_dealer_keygen(get_ciphersuite("ed25519"), 2, list(OLD.values()))
    pinned = Pinned(tuple(roster_of([parties[n] for n in OLD])), 2, KeyPolicy()).to_public()
    for node, pid in OLD.items():
        services[node].shares.put_share(KEY_ID, 0, shares[pid].to_bytes(),
                                        public={"package": public.to_dict(), "pinned": pinned})
    recovery_key = X25519PrivateKey.generate()
    root = make_escrowed_set(tmp_path / "backup-1", key_id=KEY_ID,
                             shares={n: shares[pid] for n, pid in OLD.items()}, escrowed=["n2", "n3"],
                             recipient=public_hex_of(recovery_key), sign=signer.sign,
                             signer_public=signer.public_keys[0])
    opened = open_escrowed(verify_set(root), KEY_ID, ["n2", "n3"], recovery_key)
    holders = [NewHolder(n, pid, parties[n].signing_public_key, parties[n].encryption_public_key)
               for n, pid in NEW.items()]
    return Recovery(services, parties, signer, public, root, deal_key(opened, holders, threshold=2, epoch=1))


async def run(activity: Any, arg: Any) -> Any:
    return await ActivityEnvironment().run(activity, arg)


async def refused(activity: Any, arg: Any) -> str:
    with pytest.raises(ApplicationError) as caught:
        await run(activity, arg)
    assert caught.value.type == "InvalidRequest"
    return str(caught.value.details[0]["code"])


def epochs(recovery: Recovery, node: str) -> list[int]:
    return recovery.nodes[node].shares.epochs(KEY_ID)


async def test_import_ack_test_signature_activation_and_erasure(recovery: Recovery) -> None:
    intent = recovery.intent()
    results = {n: await run(RecoverNode(recovery.nodes[n]).import_share, recovery.request(n, intent)) for n in NEW}
    digests = {r.ack_digest for r in results.values()}
    assert len(digests) == 1 and all(r.package == recovery.dealt.package for r in results.values())
    assert epochs(recovery, "n1") == [0, 1] and recovery.nodes["n1"].shares.active_epoch(KEY_ID) == 0  # inactive
    again = await run(RecoverNode(recovery.nodes["n4"]).import_share, recovery.request("n4", intent))
    assert again.ack_digest in digests  # a Temporal retry finds its own share

    reshare = {n: ReshareNode(recovery.nodes[n]) for n in (*NEW, "n3")}
    step = ReshareStep(SESSION, KEY_ID, 1, digests.pop())
    acks = [await run(reshare[n].ack, step) for n in NEW]
    step = dataclasses.replace(step, acks=acks, signers=[recovery.parties["n4"], recovery.parties["n5"]])
    step = dataclasses.replace(step, commitments=[await run(reshare[n].test_commit, step) for n in ("n4", "n5")])
    step = dataclasses.replace(step, shares=[await run(reshare[n].test_sign, step) for n in ("n4", "n5")])
    signature = bytes.fromhex((await run(reshare["n4"].activate, step)).detail)
    for node in ("n1", "n5"):
        await run(reshare[node].activate, step)
    message = reshare_digests.test_message(KEY_ID, 1, step.ack_digest)
    assert verify(get_ciphersuite("ed25519"), recovery.old_public.group_public_key, message, signature)
    assert all(recovery.nodes[n].shares.active_epoch(KEY_ID) == 1 for n in NEW)

    erase = dataclasses.replace(step, test_signature=signature.hex(), intent=intent)
    await run(reshare["n1"].retire, erase)
    assert epochs(recovery, "n1") == [1]
    await run(reshare["n3"].retire, erase)  # a lost holder that came back: it checks the proof, then erases
    assert epochs(recovery, "n3") == []


async def test_every_shortcut_is_refused_and_stores_nothing(recovery: Recovery, tmp_path: Path) -> None:
    node = RecoverNode(recovery.nodes["n4"])
    intent = recovery.intent()
    swapped = recovery.request("n4", intent, sealed_share=recovery.dealt.shares["n5"])
    assert await refused(node.import_share, swapped) == "intent_mismatch"  # not the share the intent names
    assert await refused(node.import_share, recovery.request("n4", recovery.intent(operation="reshare"))) \
        == "intent_mismatch"
    foreign = LocalIntentSigner(tmp_path / "not-the-api.pem")
    assert await refused(node.import_share, recovery.request("n4", recovery.intent(signer=foreign))) == "unauthorized"
    forged_sig = recovery.request("n4", intent, manifest_signature=json.dumps(
        {"public_key": foreign.public_keys[0], "signature": foreign.sign(b"x")}))
    assert await refused(node.import_share, forged_sig) == "unauthorized"  # manifest not signed by a trusted key

    # A package of another key: the nodes compare its group key with the signed manifest's.
    other_shares, other_public = trusted_dealer_keygen(get_ciphersuite("ed25519"), 2, [1, 4, 5])
    other = dataclasses.replace(other_public, epoch=1).to_dict()
    assert await refused(node.import_share, recovery.request("n4", recovery.intent(package=other))) \
        == "intent_mismatch"
    del other_shares
    # n1 still holds the key: the intent's old roster must be the one it pinned.
    wrong_roster = recovery.intent(old_roster=roster_of([recovery.parties[n] for n in ("n1", "n2", "n4")]))
    assert await refused(RecoverNode(recovery.nodes["n1"]).import_share, recovery.request("n1", wrong_roster)) \
        == "roster_mismatch"
    assert epochs(recovery, "n4") == [] and epochs(recovery, "n1") == [0]
    # The genuine request still goes through afterwards (no refusal consumed anything).
    assert (await run(node.import_share, recovery.request("n4", intent))).ack_digest
