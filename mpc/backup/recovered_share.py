"""A share dealt by `mpc recover --from-escrow`, sealed to the one new holder that may open it.

The operator's recovery command encrypts each new share to the new holder's X25519 identity key (the key
the node registered, whose fingerprint the operator confirms) with the escrow's HPKE suite (RFC 9180,
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305). The context (format, key id, new epoch, node,
party id and group key) is HPKE's `info`, so a sealed share moved to another key, epoch, node or party does
not open. The platform relays only this ciphertext; the node opens it with its identity key inside the
import activity (activities/recover_node.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from mpc.backup.escrow import HPKE_SUITE, SUITE_NAME

RECOVERED_FORMAT = "mpc-signer/recovered-share/v1"
MAX_SEALED_BYTES = 64 * 1024


class SealedShareError(ValueError):
    """A sealed share that is not one of this platform's, or not for this context; never holds secret bytes."""


@dataclass(frozen=True)
class RecoveredShareContext:
    key_id: str
    epoch: int  # the epoch the share starts (the key's current epoch + 1)
    node_id: str
    party_id: int
    group_public_key: str  # hex, as the key's public package names it

    def info(self) -> bytes:
        return json.dumps({"format": RECOVERED_FORMAT, "key_id": self.key_id, "epoch": self.epoch,
                           "node_id": self.node_id, "party_id": self.party_id,
                           "group_public_key": self.group_public_key},
                          sort_keys=True, separators=(",", ":")).encode()


def seal_for_node(share: bytes | bytearray, node_x25519: str, context: RecoveredShareContext) -> bytes:
    """The sealed share (JSON bytes) for the node whose X25519 identity key is `node_x25519` (64 hex)."""
    try:
        public = X25519PublicKey.from_public_bytes(bytes.fromhex(node_x25519))
    except ValueError:
        raise SealedShareError(f"the X25519 key of {context.node_id} is not 32 bytes of hex") from None
    ciphertext = HPKE_SUITE.encrypt(bytes(share), public, info=context.info())
    body = {"format": RECOVERED_FORMAT, "suite": SUITE_NAME, "recipient": node_x25519.lower(),
            "key_id": context.key_id, "epoch": context.epoch, "node_id": context.node_id,
            "party_id": context.party_id, "group_public_key": context.group_public_key,
            "ciphertext": base64.b64encode(ciphertext).decode()}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sealed_digest(sealed_b64: str) -> str:
    """What an intent names a sealed share by: SHA-256 of its bytes, hex."""
    try:
        raw = base64.b64decode(sealed_b64, validate=True)
    except ValueError:
        raise SealedShareError("a sealed share is not base64") from None
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class SealedShare:
    context: RecoveredShareContext
    recipient: str
    ciphertext: bytes

    @classmethod
    def parse(cls, raw: bytes) -> SealedShare:
        if len(raw) > MAX_SEALED_BYTES:
            raise SealedShareError("a sealed share larger than any this platform makes")
        try:
            body: dict[str, Any] = json.loads(raw)
            if body.get("format") != RECOVERED_FORMAT or body.get("suite") != SUITE_NAME:
                raise ValueError("format")
            party_id, epoch = body["party_id"], body["epoch"]
            if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in (party_id, epoch)):
                raise ValueError("ints")
            context = RecoveredShareContext(str(body["key_id"]), epoch, str(body["node_id"]), party_id,
                                            str(body["group_public_key"]))
            return cls(context, str(body["recipient"]), base64.b64decode(body["ciphertext"], validate=True))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SealedShareError("not a sealed share of this platform") from None


__all__ = ["MAX_SEALED_BYTES", "RECOVERED_FORMAT", "RecoveredShareContext", "SealedShare", "SealedShareError",
           "seal_for_node", "sealed_digest"]
