"""Phase two of a reshare on the nodes (activities/reshare_node.py), without a stack.

Three old holders (n1, n2, n3) of a 2-of-3 key hand it to n1, n2 and n4: each new holder has its
share of epoch 1 stored inactive. ACKs, the FROST test signature, activation and erasure then run
on in-process nodes, and every shortcut is refused: activation without every ACK, an ACK of other
public shares, a test signature that does not verify, an old holder asked to erase without proof.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.authorisation import IntentGate, Pinned
from activities.node_services import NodeServices
from activities.reshare_node import ReshareNode
from mpc import reshare_digests
from mpc.identity import NodeIdentity
from mpc.intent_keys import LocalIntentSigner, TrustedIntentKeys
from mpc.intents import Intent, KeyPolicy
from mpc.keystore import LocalKeyWrapper, SecretStateStore, ShareStore
from tss.frost import get_ciphersuite, trusted_dealer_keygen, verify
from workflows.types import Party, ReshareStep, SessionIntent, roster_of

KEY_ID = "key-r"
SUITE = "ed25519"
OLD, NEW = {"n1": 1, "n2": 2, "n3": 3}, {"n1": 1, "n2": 2, "n4": 4}
ACK_DIGEST = hashlib.sha256(b"the new public shares").hexdigest()


@dataclasses.dataclass
class Net:
    nodes: dict[str, ReshareNode]
    parties: dict[str, Party]
    signer: LocalIntentSigner
    group_key: Any

    def step(self, **fields: Any) -> ReshareStep:
        return ReshareStep("session-1", KEY_ID, 1, ACK_DIGEST, **fields)


def _services(tmp: Path, node_id: str, trusted: TrustedIntentKeys) -> NodeServices:
    wrapper = LocalKeyWrapper(os.urandom(32))
    state = SecretStateStore(tmp / node_id / "state", wrapper, node_id)
    return NodeServices(node_id, NodeIdentity.generate(node_id), ShareStore(tmp / node_id / "keys", wrapper, node_id),
                        state, IntentGate(trusted, state))


@pytest.fixture
def net(tmp_path: Path) -> Net:
    signer = LocalIntentSigner(tmp_path / "api.pem")
    trusted = TrustedIntentKeys(signer.public_keys)
    services = {n: _services(tmp_path, n, trusted) for n in ("n1", "n2", "n3", "n4")}
    parties = {n: Party(n, {**OLD, **NEW}[n], s.identity.public().ed25519, s.identity.public().x25519)
               for n, s in services.items()}
    suite = get_ciphersuite(SUITE)
    secret = suite.group.random_nonzero_scalar()
    old_shares, old_public = trusted_dealer_keygen(suite, 2, list(OLD.values()), secret=secret)
    new_shares, new_public = trusted_dealer_keygen(suite, 2, list(NEW.values()), secret=secret)
    new_public = dataclasses.replace(new_public, epoch=1)
    policy = KeyPolicy()
    old_pinned = Pinned(tuple(roster_of([parties[n] for n in OLD])), 2, policy).to_public()
    new_pinned = Pinned(tuple(roster_of([parties[n] for n in NEW])), 2, policy).to_public()
    for node, pid in OLD.items():
        services[node].shares.put_share(KEY_ID, 0, old_shares[pid].to_bytes(),
                                        public={"package": old_public.to_dict(), "pinned": old_pinned})
    for node, pid in NEW.items():
        share = dataclasses.replace(new_shares[pid], public=new_public)
        services[node].shares.put_share(KEY_ID, 1, share.to_bytes(), activate=False, public={
            "package": new_public.to_dict(), "ack_digest": ACK_DIGEST, "pinned": new_pinned})
    return Net({n: ReshareNode(s) for n, s in services.items()}, parties, signer, old_public.group_public_key)


async def run(activity: Any, step: ReshareStep) -> Any:
    return await ActivityEnvironment().run(activity, step)


async def refused(activity: Any, step: ReshareStep) -> str:
    with pytest.raises(ApplicationError) as caught:
        await run(activity, step)
    return str(caught.value.details[0]["code"])


async def confirmed(net: Net) -> ReshareStep:
    """ACKs from every new holder and a test signature by n1 and n2."""
    acks = [await run(net.nodes[n].ack, net.step()) for n in NEW]
    step = net.step(acks=acks, signers=[net.parties["n1"], net.parties["n2"]])
    commitments = [await run(net.nodes[n].test_commit, step) for n in ("n1", "n2")]
    step = dataclasses.replace(step, commitments=commitments)
    shares = [await run(net.nodes[n].test_sign, step) for n in ("n1", "n2")]
    return dataclasses.replace(step, shares=shares)


def active(net: Net, node: str) -> int | None:
    return net.nodes[node].services.shares.active_epoch(KEY_ID)


async def test_acks_test_signature_activation_and_erasure(net: Net) -> None:
    step = await confirmed(net)
    results = [await run(net.nodes[n].activate, step) for n in NEW]
    signature = bytes.fromhex(results[0].detail)
    assert all(r.detail == results[0].detail for r in results)
    assert verify(get_ciphersuite(SUITE), net.group_key, reshare_digests.test_message(KEY_ID, 1, ACK_DIGEST), signature)
    assert [active(net, n) for n in NEW] == [1, 1, 1]
    assert (await run(net.nodes["n4"].activate, step)).done  # a retry after the commit is a no-op

    erase = dataclasses.replace(step, test_signature=signature.hex(), intent=reshare_intent(net))
    await run(net.nodes["n1"].retire, erase)
    assert net.nodes["n1"].services.shares.epochs(KEY_ID) == [1]
    await run(net.nodes["n3"].retire, erase)  # n3 left the committee: it checks the proof, then erases everything
    assert net.nodes["n3"].services.shares.epochs(KEY_ID) == []


async def test_activation_needs_every_ack(net: Net) -> None:
    step = await confirmed(net)
    without_n4 = dataclasses.replace(step, acks=[a for a in step.acks if a.node_id != "n4"])
    assert await refused(net.nodes["n1"].activate, without_n4) == "ack_set_incomplete"
    doubled = dataclasses.replace(step, acks=[*step.acks, step.acks[0]])
    assert await refused(net.nodes["n1"].activate, doubled) == "ack_set_invalid"
    forged = dataclasses.replace(step.acks[2], signature=step.acks[1].signature)
    assert await refused(net.nodes["n1"].activate, dataclasses.replace(step, acks=[*step.acks[:2], forged])) \
        == "ack_set_invalid"
    assert active(net, "n1") == 0  # the old epoch still signs


async def test_a_test_signature_needs_the_acks_first(net: Net) -> None:
    first_ack = await run(net.nodes["n1"].ack, net.step())
    partial = net.step(acks=[first_ack], signers=[net.parties["n1"], net.parties["n2"]])
    assert await refused(net.nodes["n1"].test_commit, partial) == "ack_set_incomplete"


async def test_an_ack_of_other_public_shares_is_refused(net: Net) -> None:
    other = hashlib.sha256(b"other shares").hexdigest()
    assert await refused(net.nodes["n1"].ack, dataclasses.replace(net.step(), ack_digest=other)) == "ack_mismatch"


async def test_a_bad_test_share_is_named_and_nothing_activates(net: Net) -> None:
    step = await confirmed(net)
    swapped = dataclasses.replace(step, shares=[step.shares[1], step.shares[1]])
    with pytest.raises(ApplicationError) as caught:
        await run(net.nodes["n4"].activate, swapped)
    assert caught.value.type in ("ProtocolViolation", "InvalidRequest")
    assert [active(net, n) for n in NEW] == [0, 0, None]


async def test_an_old_holder_erases_only_with_proof(net: Net, tmp_path: Path) -> None:
    step = await confirmed(net)
    signature = (await run(net.nodes["n1"].activate, step)).detail
    erase = dataclasses.replace(step, test_signature=signature, intent=reshare_intent(net))
    wrong_signature = dataclasses.replace(erase, test_signature=("00" * 64))
    assert await refused(net.nodes["n3"].retire, wrong_signature) == "unverified_commit"
    assert await refused(net.nodes["n3"].retire, dataclasses.replace(erase, intent=None)) == "unauthorized"
    short = dataclasses.replace(erase, acks=erase.acks[:2])
    assert await refused(net.nodes["n3"].retire, short) == "ack_set_incomplete"
    foreign = reshare_intent(net, api=LocalIntentSigner(tmp_path / "not-the-api.pem"))
    assert await refused(net.nodes["n3"].retire, dataclasses.replace(erase, intent=foreign)) == "unauthorized"
    assert net.nodes["n3"].services.shares.epochs(KEY_ID) == [0]
    # n2 stays in the committee: it erases only once its own new epoch is active.
    assert await refused(net.nodes["n2"].retire, erase) == "not_activated"
    assert net.nodes["n2"].services.shares.epochs(KEY_ID) == [0, 1]


def test_test_messages_are_tagged_and_bound() -> None:
    digest = reshare_digests.test_message(KEY_ID, 1, ACK_DIGEST)
    assert len(digest) == 32
    assert digest != reshare_digests.test_message(KEY_ID, 2, ACK_DIGEST)
    assert digest != reshare_digests.test_message("key-s", 1, ACK_DIGEST)
    assert digest != hashlib.sha256(bytes.fromhex(ACK_DIGEST)).digest()


def reshare_intent(net: Net, api: LocalIntentSigner | None = None) -> SessionIntent:
    details = {"new_roster": roster_of([net.parties[n] for n in NEW]), "new_threshold": 2}
    raw = Intent(os.urandom(16).hex(), "reshare", KEY_ID, 0, int(time.time()) - 10, details).to_bytes()
    return SessionIntent(raw.hex(), (api or net.signer).sign(raw))  # expired: erasure may come much later

