"""Intents minted in tests, standing in for the API (the test holds the Vault root token).

`mint` signs with the API's own transit key, as `POST /v1/keys/{id}/sign` would; `forge` signs with
a key of the attacker's, which no node trusts.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpc.intent_keys import DEFAULT_KEY_NAME, VaultIntentSigner
from mpc.intents import Intent
from tests.stack import Stack
from workflows.types import SessionIntent


def make_intent(*, operation: str, key_id: str, details: dict[str, Any], epoch: int = 0, ttl: float = 300,
                intent_id: str | None = None) -> Intent:
    return Intent(intent_id or secrets.token_hex(16), operation, key_id, epoch, int(time.time() + ttl), details)


def api_signer(stack: Stack) -> VaultIntentSigner:
    return VaultIntentSigner(stack.env["VAULT_ADDR"], stack.env["VAULT_TOKEN"], DEFAULT_KEY_NAME)


def mint(stack: Stack, intent: Intent) -> SessionIntent:
    raw = intent.to_bytes()
    return SessionIntent(raw.hex(), api_signer(stack).sign(raw))


def forge(intent: Intent) -> SessionIntent:
    raw = intent.to_bytes()
    return SessionIntent(raw.hex(), Ed25519PrivateKey.generate().sign(raw).hex())


def sign_details(digest: str, signers: list[str], protocol: str = "frost", chain_type: str = "ed25519",
                 merkle_root: str | None = None) -> dict[str, Any]:
    """What the API puts in a sign intent (api/orchestration.py start_sign)."""
    return {"protocol": protocol, "digest": digest, "signers": signers, "taproot_merkle_root": merkle_root,
            "chain_type": chain_type}
