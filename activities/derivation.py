"""BIP-32 children on a participant: the tweak for one signature, from what this node sealed itself.

The path comes from the session and must equal the intent's (the caller checks that); the chain code
comes from the pinned data sealed with the share at keygen, and the root key from the node's own share,
never from the request. The tweak is applied where the share is loaded, for that one signature: the
sealed share never changes.
"""

from __future__ import annotations

from activities.authorisation import Pinned
from activities.node_services import NodeServices, invalid_request
from mpc.hd import HardenedDerivationError, NoChainCodeError, canonical_path, derive
from mpc.keystore import KeystoreError
from tss.hd import DerivationError


def child_tweak(services: NodeServices, key_id: str, path: str | None, curve: str, root_public_key: bytes,
                epoch: int | None = None) -> int:
    """δ with child = root + δ·G for `path` (0 for no path); refusals are `InvalidRequest`s that name no node."""
    try:
        canonical = canonical_path(path, curve)
    except HardenedDerivationError as exc:
        invalid_request("hardened_not_possible", str(exc))
    except DerivationError as exc:
        invalid_request("invalid_derivation_path", str(exc))
    if canonical is None:
        return 0
    if canonical != path:
        invalid_request("invalid_derivation_path", "the derivation path is not in canonical form")
    try:
        pinned = Pinned.from_public(services.shares.get_meta(key_id, epoch).public)
    except (KeystoreError, ValueError):
        invalid_request("share_unavailable", f"no share of key {key_id} on {services.node_id}")
    try:
        return derive(root_public_key.hex(), pinned.chain_code if pinned else None, canonical).tweak
    except NoChainCodeError as exc:
        invalid_request("no_chain_code", str(exc))
    except DerivationError as exc:
        invalid_request("invalid_derivation_path", str(exc))
