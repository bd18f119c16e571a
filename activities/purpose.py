"""Purpose binding on a participant (SECURITY.md I7): what a signature is for, decided by the node.

A key's chain is its purpose, pinned at keygen. A sign intent either names a bare digest, which the node
signs only if the key's pinned policy allows raw digests, or names a transaction: then the node parses
it with the chain's library, for the key (or the BIP-32 child) it derives itself, and signs only if the
session's message is exactly what that transaction needs. So the coordinator and the API cannot make a
node sign a digest of something else, nor a transaction of another chain, nor spend someone else's coins.
Every refusal comes before any nonce, presignature or share is touched, and names no node.
"""

from __future__ import annotations

from collections.abc import Mapping

from activities.authorisation import Pinned
from activities.node_services import NodeServices, invalid_request
from mpc.hd import derive
from mpc.intents import Intent
from mpc.keystore import KeystoreError
from mpc.transactions import KeyContext, TransactionError, prepare
from tss.hd import DerivationError

RAW_DIGEST_BYTES = 32


def check_purpose(services: NodeServices, key_id: str, intent: Intent, *, family: str, curve: str, digest: str,
                  taproot_merkle_root: str | None, derivation_path: str | None) -> None:
    """Refuse (`InvalidRequest`) unless the session's `digest` is a raw digest this key may sign, or the
    message the intent's transaction needs from this key (child)."""
    try:
        meta = services.shares.get_meta(key_id)
    except (KeystoreError, ValueError):
        invalid_request("share_unavailable", f"no share of key {key_id} on {services.node_id}")
    pinned = Pinned.from_public(meta.public)
    transaction = intent.details.get("transaction")
    if transaction is None:
        if pinned is not None and not pinned.policy.allow_raw_digest:
            invalid_request("raw_digest_not_allowed", f"key {key_id} signs transactions only (its policy pins "
                                                      "allow_raw_digest off)")
        if len(digest) != 2 * RAW_DIGEST_BYTES:
            invalid_request("invalid_digest", "a raw digest is 32 bytes")
        return
    if not isinstance(transaction, Mapping) or set(transaction) != {"chain", "payload"}:
        invalid_request("intent_mismatch", "the intent's transaction is not {chain, payload}")
    chain = str(transaction["chain"])
    pinned_chain = pinned.chain_type if pinned is not None else None
    if pinned_chain is not None and chain != pinned_chain:
        invalid_request("chain_mismatch", f"a {chain} transaction for a {pinned_chain} key (its pinned purpose)")
    key = KeyContext(pinned_chain or chain, curve, family, _signing_key(meta.public, pinned, derivation_path))
    try:
        prepared = prepare(chain, transaction["payload"], key)
    except TransactionError as exc:
        invalid_request(exc.code, f"the intent's transaction cannot be signed by this key: {exc}")
    if [target.message.hex() for target in prepared.inputs] != [digest]:
        invalid_request("intent_mismatch", "the session's message is not what the intent's transaction signs")
    root = prepared.inputs[0].taproot_merkle_root
    if (root.hex() if root is not None else None) != taproot_merkle_root:
        invalid_request("intent_mismatch", "the session's taproot merkle root is not the transaction input's")


def _signing_key(public: Mapping[str, object], pinned: Pinned | None, path: str | None) -> bytes:
    """The key (or child) as this node holds it: its own sealed package and pinned chain code."""
    package = public.get("package")
    root = package.get("group_public_key") if isinstance(package, Mapping) else None
    if not isinstance(root, str):
        invalid_request("share_unavailable", "the sealed share has no public package")
    if path is None:
        return bytes.fromhex(root)
    try:
        return derive(root, pinned.chain_code if pinned is not None else None, path).public_key
    except DerivationError as exc:
        invalid_request("invalid_derivation_path", str(exc))
