"""Node identity: an Ed25519 signing key and an X25519 encryption key per participant node.

Why two keys: Ed25519 signs every protocol message, so a receiver knows which node spoke
(SECURITY.md I2, S2); X25519 lets peers encrypt point-to-point payloads (secret shares) to this
node only (SECURITY.md C6), through a relay (Temporal) that must see ciphertext only.

The keys are generated on first start and kept sealed in the node's `SecretStateStore` (envelope
encryption under the node's Vault transit key), never in configuration or the database. Only the
public half (`NodePublic`) is registered with the coordinator. Nothing here ever prints secrets:
`repr` shows the node id and public-key fingerprints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from mpc.ed25519_check import ed25519_valid
from mpc.keystore.errors import IntegrityError, ShareExistsError, ShareNotFoundError
from mpc.keystore.state import SecretStateStore

IDENTITY_NAMESPACE = "node-identity"
IDENTITY_RECORD = "keys-v1"
_KEY_BYTES = 32


class IdentityError(ValueError):
    """A public key or identity record is malformed."""


def _raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _hex32(value: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (ValueError, TypeError):
        raise IdentityError(f"{what} is not hex") from None
    if len(raw) != _KEY_BYTES:
        raise IdentityError(f"{what} must be {_KEY_BYTES} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class NodePublic:
    """The public identity of a node, as registered with the coordinator (hex strings)."""

    node_id: str
    ed25519: str
    x25519: str

    def __post_init__(self) -> None:
        _hex32(self.ed25519, f"ed25519 key of {self.node_id}")
        _hex32(self.x25519, f"x25519 key of {self.node_id}")

    @property
    def ed25519_bytes(self) -> bytes:
        return bytes.fromhex(self.ed25519)

    @property
    def x25519_bytes(self) -> bytes:
        return bytes.fromhex(self.x25519)

    @property
    def signing_public_key(self) -> str:
        """Alias used by node registration (`api.schemas.NodeRegistration`, `workflows.types.Party`)."""
        return self.ed25519

    @property
    def encryption_public_key(self) -> str:
        return self.x25519

    @property
    def fingerprint(self) -> str:
        """Short, stable name for logs and operator checks (both keys covered)."""
        return hashlib.sha256(b"mpc-node-id/v1" + self.ed25519_bytes + self.x25519_bytes).hexdigest()[:16]

    def verify(self, message: bytes, signature: bytes) -> bool:
        return ed25519_valid(self.ed25519_bytes, message, signature)

    def to_dict(self) -> dict[str, str]:
        return {"node_id": self.node_id, "ed25519": self.ed25519, "x25519": self.x25519}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodePublic:
        try:
            return cls(node_id=str(data["node_id"]), ed25519=str(data["ed25519"]), x25519=str(data["x25519"]))
        except KeyError as exc:
            raise IdentityError(f"node public identity lacks {exc.args[0]!r}") from None


class NodeIdentity:
    """A node's private identity keys. Create with `generate` or `load_or_create`."""

    __slots__ = ("_kx", "_sign", "node_id")

    def __init__(self, node_id: str, signing_key: Ed25519PrivateKey, exchange_key: X25519PrivateKey) -> None:
        self.node_id = node_id
        self._sign = signing_key
        self._kx = exchange_key

    @classmethod
    def generate(cls, node_id: str) -> NodeIdentity:
        """Fresh keys from the OS CSPRNG (via OpenSSL)."""
        return cls(node_id, Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, store: SecretStateStore, node_id: str | None = None) -> NodeIdentity:
        """Load this node's identity from `store`, creating and sealing it on first start.

        Two processes racing on first start both end up with the one identity that won the
        create-only write. The record is exempt from the nonce epoch: a restore keeps the
        node's identity (peers know its public keys), it only voids nonces.
        """
        node_id = node_id or store.node_id
        try:
            return cls._from_record(node_id, store.get(IDENTITY_NAMESPACE, node_id, IDENTITY_RECORD, allow_stale=True))
        except ShareNotFoundError:
            pass
        fresh = cls.generate(node_id)
        try:
            store.put(IDENTITY_NAMESPACE, node_id, IDENTITY_RECORD, fresh._record())
            return fresh
        except ShareExistsError:
            return cls._from_record(node_id, store.get(IDENTITY_NAMESPACE, node_id, IDENTITY_RECORD, allow_stale=True))

    def _record(self) -> bytes:
        return (self._sign.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
                + self._kx.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def _from_record(cls, node_id: str, record: bytes) -> NodeIdentity:
        if len(record) != 2 * _KEY_BYTES:
            raise IntegrityError(f"identity record of node {node_id!r} has the wrong length")
        return cls(node_id, Ed25519PrivateKey.from_private_bytes(record[:_KEY_BYTES]),
                   X25519PrivateKey.from_private_bytes(record[_KEY_BYTES:]))

    def public(self) -> NodePublic:
        ed = _raw_public(self._sign.public_key()).hex()
        return NodePublic(self.node_id, ed, _raw_public(self._kx.public_key()).hex())

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (deterministic, RFC 8032)."""
        return self._sign.sign(message)

    def x25519_exchange(self, peer_public: bytes) -> bytes:
        """Raw X25519 shared secret with `peer_public`; feed it to a KDF, never use it directly.

        Raises:
            IdentityError: `peer_public` is malformed or a low-order point (all-zero secret).
        """
        try:
            return self._kx.exchange(X25519PublicKey.from_public_bytes(peer_public))
        except ValueError:
            raise IdentityError("invalid X25519 public key (wrong length or low-order point)") from None

    def hpke_open(self, suite: Any, ciphertext: bytes, *, info: bytes) -> bytearray:
        """Open an RFC 9180 HPKE (base mode) message sent to this node's X25519 key, with `suite` (a
        `cryptography` HPKE Suite). The private key never leaves this object; overwrite the result when done.

        Raises:
            cryptography.exceptions.InvalidTag: not for this key, or its `info` differs.
        """
        return bytearray(suite.decrypt(ciphertext, self._kx, info=info))

    def __repr__(self) -> str:
        return f"NodeIdentity(node_id={self.node_id!r}, fingerprint={self.public().fingerprint})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # refuse pickling: it would write the private keys out in clear
        raise TypeError("NodeIdentity cannot be pickled; load it from the keystore instead")


__all__ = ["IDENTITY_NAMESPACE", "IdentityError", "NodeIdentity", "NodePublic"]
