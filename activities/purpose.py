"""Purpose binding on a participant (SECURITY.md I7): what a signature is for, decided by the node.

A key's chain is its purpose, pinned at keygen. A sign intent names what is signed as a list of targets
(one digest, or a batch: every digest in order, with each one's Taproot merkle root and BIP-32 child).
Either the targets are bare digests, which the node signs only if the key's pinned policy allows raw
digests, or the intent names a transaction: then the node parses it with the chain's library, for the
key and the children it derives itself, and signs only if the intent's targets are exactly, in order,
what that transaction needs (a PSBT: one per input). The session is then checked against the intent's
targets (`intent_targets`). So the coordinator and the API cannot make a node sign a digest of something
else, nor a transaction of another chain, nor spend someone else's coins, nor leave out or reorder an
input. Every refusal comes before any nonce, presignature or share is touched, and names no node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from activities.authorisation import Pinned
from activities.node_services import NodeServices, invalid_request
from mpc.intents import Intent
from mpc.keystore import KeystoreError
from mpc.transactions import KeyContext, TransactionError, prepare

RAW_DIGEST_BYTES = 32


@dataclass(frozen=True)
class Target:
    """One signature as an intent names it: the message (hex), its Taproot merkle root and BIP-32 child."""

    digest: str
    taproot_merkle_root: str | None = None
    derivation_path: str | None = None


def _per_item(details: Mapping[str, Any], plural: str, singular: str, count: int) -> list[Any]:
    listed = details.get(plural)
    if listed is None:
        return [details.get(singular)] * count
    if not isinstance(listed, list) or len(listed) != count or details.get(singular) is not None:
        invalid_request("intent_mismatch", f"the intent's {plural} do not name one entry per digest")
    return listed


def intent_targets(intent: Intent) -> list[Target]:
    """What the intent authorises, in order: `digest` (one), or `digests` with one `taproot_merkle_root` and
    `derivation_path` for all or `taproot_merkle_roots` / `derivation_paths` per digest."""
    details = intent.details
    digests = details.get("digests")
    if digests is None:
        digests = [details.get("digest")]
    elif not isinstance(digests, list) or not digests or details.get("digest") is not None:
        invalid_request("intent_mismatch", "the intent names no digest list")
    roots = _per_item(details, "taproot_merkle_roots", "taproot_merkle_root", len(digests))
    paths = _per_item(details, "derivation_paths", "derivation_path", len(digests))
    targets = []
    for digest, root, path in zip(digests, roots, paths, strict=True):
        if not isinstance(digest, str) or not all(v is None or isinstance(v, str) for v in (root, path)):
            invalid_request("intent_mismatch", "the intent's digests, roots and paths are not strings")
        targets.append(Target(digest, root, path))
    return targets


def expect_targets(intent: Intent, session: Sequence[Target]) -> list[Target]:
    """The session signs exactly the intent's targets, in order; returns them."""
    targets = intent_targets(intent)
    if list(session) != targets:
        invalid_request("intent_mismatch", "the session's digests (or their roots or paths) are not the intent's, "
                                           "in its order")
    return targets


def expect_batch_item(intent: Intent, index: int, session: Target) -> None:
    """One signature of a batch signed on its own (an ECDSA run): the intent's target at `index`."""
    if intent.details.get("digests") is None:
        invalid_request("intent_mismatch", "a batch run needs an intent that names a digest list")
    targets = intent_targets(intent)
    if type(index) is not int or not 0 <= index < len(targets) or targets[index] != session:
        invalid_request("intent_mismatch", f"the session's digest (or path) is not the intent's digest {index}")


def check_purpose(services: NodeServices, key_id: str, intent: Intent, *, family: str, curve: str) -> None:
    """Refuse (`InvalidRequest`) unless the intent's targets are raw digests this key may sign, or exactly
    the messages the intent's transaction needs from this key (and its children), input by input."""
    try:
        meta = services.shares.get_meta(key_id)
    except (KeystoreError, ValueError):
        invalid_request("share_unavailable", f"no share of key {key_id} on {services.node_id}")
    pinned = Pinned.from_public(meta.public)
    targets = intent_targets(intent)
    transaction = intent.details.get("transaction")
    if transaction is None:
        if pinned is not None and not pinned.policy.allow_raw_digest:
            invalid_request("raw_digest_not_allowed", f"key {key_id} signs transactions only (its policy pins "
                                                      "allow_raw_digest off)")
        if any(len(t.digest) != 2 * RAW_DIGEST_BYTES for t in targets):
            invalid_request("invalid_digest", "a raw digest is 32 bytes")
        return
    if not isinstance(transaction, Mapping) or set(transaction) != {"chain", "payload"}:
        invalid_request("intent_mismatch", "the intent's transaction is not {chain, payload}")
    chain = str(transaction["chain"])
    pinned_chain = pinned.chain_type if pinned is not None else None
    if pinned_chain is not None and chain != pinned_chain:
        invalid_request("chain_mismatch", f"a {chain} transaction for a {pinned_chain} key (its pinned purpose)")
    key = KeyContext(pinned_chain or chain, curve, family, _root_key(meta.public),
                     chain_code=bytes.fromhex(pinned.chain_code) if pinned is not None and pinned.chain_code else None,
                     input_paths=tuple(t.derivation_path for t in targets))
    try:
        prepared = prepare(chain, transaction["payload"], key)
    except TransactionError as exc:
        invalid_request(exc.code, f"the intent's transaction cannot be signed by this key: {exc}")
    needed = [Target(i.message.hex(), i.taproot_merkle_root.hex() if i.taproot_merkle_root is not None else None,
                     i.derivation_path) for i in prepared.inputs]
    if needed != targets:
        invalid_request("intent_mismatch", "the intent's messages are not what its transaction signs, input by "
                                           "input")


def _root_key(public: Mapping[str, object]) -> bytes:
    """The key as this node holds it: its own sealed package (the children come from its pinned chain code)."""
    package = public.get("package")
    root = package.get("group_public_key") if isinstance(package, Mapping) else None
    if not isinstance(root, str):
        invalid_request("share_unavailable", "the sealed share has no public package")
    return bytes.fromhex(root)
