"""Signed, and for point-to-point encrypted, messages between nodes over an untrusted relay.

The coordinator (a Temporal workflow) carries every protocol message, so it must be unable to
read a secret payload, alter anything, speak for a node, or move a message into another session,
round or recipient unnoticed (DESIGN.md round-protocol rule 1; SECURITY.md S2, S3, I2, C6).

- Header: ssid, protocol, round, kind, sender node id, recipient node id or ``"*"`` (broadcast).
- Signature: Ed25519 by the sender's identity key over ``tag | lp(version) | lp(ssid) |
  lp(protocol) | lp(round) | lp(kind) | lp(sender) | lp(recipient) | lp(SHA-256(payload))``, each
  field length-prefixed (8 bytes) so no two headers encode alike (SECURITY.md Z2).
- Point-to-point payload: ``ephemeral X25519 public key (32) | ChaCha20-Poly1305 ciphertext``.
  The key is HKDF-SHA256 of the ephemeral-static X25519 secret, with both public keys in `info`;
  the header is the associated data, so a ciphertext re-signed by another node (sender changed)
  or moved to another session/round/recipient does not decrypt. Each message has a fresh
  ephemeral key, hence a fresh AEAD key, so the fixed all-zero nonce is never reused.
- `open_envelope` checks the signature first, then the header against what the receiver
  expects, and only then decrypts; payload parsing happens after all three (SECURITY.md S2).

Bytes are base64 (payload) or hex (ssid, signature) strings, so an `Envelope` passes through
Temporal's JSON payload converter unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mpc.ed25519_check import ed25519_valid
from mpc.identity import IdentityError, NodeIdentity, NodePublic

BROADCAST = "*"
VERSION = 1
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_SSID_BYTES = 128
_TAG_SIGN = b"mpc-envelope/sign/v1"
_TAG_AD = b"mpc-envelope/ad/v1"
_TAG_KDF = b"mpc-envelope/p2p-key/v1"
_NONCE = b"\x00" * 12


class EnvelopeError(Exception):
    """A message was refused. `sender` is the node id the envelope claims.

    Attributes:
        reason: stable code: ``malformed``, ``bad_signature``, ``unknown_sender``, ``wrong_ssid``,
            ``wrong_protocol``, ``wrong_round``, ``wrong_kind``, ``wrong_recipient``,
            ``wrong_mode``, ``decryption_failed``, ``closed_session``, ``equivocation``.
        sender: the claimed sender node id.
        attributable: True when the sender's own valid signature proves the fault is the
            sender's (decryption failure, equivocation); False when the relay could be at fault
            (bad signature, replay into another session/round), so blame only the transport.
    """

    def __init__(self, reason: str, sender: str, detail: str = "", *, attributable: bool = False) -> None:
        self.reason = reason
        # A claimed sender is a node id (at most 128 characters); a longer one is not echoed in full
        # into failure text and workflow history (found by tests/fuzz: a 5,000-character sender).
        self.sender = sender = _printable(sender[:128]) if isinstance(sender, str) else "?"
        self.detail = detail
        self.attributable = attributable
        super().__init__(f"{reason}: sender={sender!r}" + (f" ({detail})" if detail else ""))


class EquivocationError(EnvelopeError):
    """Two different validly signed messages for one (ssid, round, kind, sender, recipient) slot.

    Both signed envelopes are kept in `first`, `second` as evidence against `sender`.
    """

    def __init__(self, first: Envelope, second: Envelope) -> None:
        super().__init__("equivocation", first.sender,
                         f"two different signed messages for ssid {first.ssid[:16]}… round {first.round} "
                         f"kind {first.kind!r} to {first.recipient!r}", attributable=True)
        self.first = first
        self.second = second


def _lp(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


@dataclass(frozen=True, slots=True)
class Envelope:
    """One relayed message. Construct with `seal`; the relay never needs to build one."""

    ssid: str
    protocol: str
    round: int
    kind: str
    sender: str
    recipient: str
    payload: str = field(repr=False)
    signature: str
    version: int = VERSION

    @property
    def is_broadcast(self) -> bool:
        return self.recipient == BROADCAST

    def payload_bytes(self) -> bytes:
        try:
            raw = base64.b64decode(self.payload, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise EnvelopeError("malformed", self.sender, "payload is not base64") from None
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise EnvelopeError("malformed", self.sender, "payload too large")
        return raw

    def _ssid_bytes(self) -> bytes:
        try:
            raw = bytes.fromhex(self.ssid)
        except (ValueError, TypeError):
            raise EnvelopeError("malformed", self.sender, "ssid is not hex") from None
        if not 0 < len(raw) <= MAX_SSID_BYTES:
            raise EnvelopeError("malformed", self.sender, "ssid length out of range")
        return raw

    def _header(self, tag: bytes) -> bytes:
        for name in ("protocol", "kind", "sender", "recipient"):
            value = getattr(self, name)
            if not isinstance(value, str) or not 0 < len(value) <= 128:
                raise EnvelopeError("malformed", str(self.sender), f"{name} must be 1-128 characters")
        if isinstance(self.round, bool) or not isinstance(self.round, int) or not 0 <= self.round < 2**32:
            raise EnvelopeError("malformed", self.sender, "round out of range")
        if self.version != VERSION:
            raise EnvelopeError("malformed", self.sender, f"unsupported version {self.version!r}")
        return b"".join([tag, _lp(str(self.version).encode()), _lp(self._ssid_bytes()), _lp(self.protocol.encode()),
                         _lp(struct.pack(">Q", self.round)), _lp(self.kind.encode()), _lp(self.sender.encode()),
                         _lp(self.recipient.encode())])

    def signed_bytes(self) -> bytes:
        """What the sender's Ed25519 signature covers."""
        return self._header(_TAG_SIGN) + _lp(hashlib.sha256(self.payload_bytes()).digest())

    def associated_data(self) -> bytes:
        """AEAD associated data of a point-to-point payload: the header."""
        return self._header(_TAG_AD)

    def canonical_bytes(self) -> bytes:
        """Exact identity of the message (header, payload, signature) for duplicate detection."""
        try:
            signature = bytes.fromhex(self.signature)
        except (ValueError, TypeError):
            raise EnvelopeError("malformed", self.sender, "signature is not hex") from None
        # Decoded values, so a relay that re-cases hex or re-pads base64 cannot fake "equivocation".
        return self.signed_bytes() + _lp(self.payload_bytes()) + _lp(signature)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Compact JSON, e.g. for `workflows.types.WireMessage.body`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        """Parse a relayed envelope; anything but a flat JSON object of the envelope's fields is
        `EnvelopeError("malformed")`, never another exception."""
        return cls.from_dict(json_object(text, max_bytes=2 * MAX_PAYLOAD_BYTES, what="envelope"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Envelope:
        """An envelope from relayed data; anything but the envelope's fields with their types (text
        that is valid Unicode, integer round and version) is `EnvelopeError("malformed")`."""
        if not isinstance(data, Mapping):
            raise EnvelopeError("malformed", "?", "envelope is not an object")
        claimed = data.get("sender")
        sender = _printable(claimed[:128]) if isinstance(claimed, str) else "?"
        text_fields = ("ssid", "protocol", "kind", "sender", "recipient", "payload", "signature")
        if not all(isinstance(data.get(k), str) for k in text_fields):
            raise EnvelopeError("malformed", sender, "missing or non-string envelope fields")
        if not all(data[k].isascii() or _printable(data[k]) == data[k] for k in text_fields):
            raise EnvelopeError("malformed", sender, "envelope fields must be valid Unicode text")
        if "round" not in data:
            raise EnvelopeError("malformed", sender, "round is missing")
        for k in ("round", "version"):
            value = data.get(k, VERSION)
            if isinstance(value, bool) or not isinstance(value, int):
                raise EnvelopeError("malformed", sender, f"{k} must be an integer")
        return cls(**{k: data[k] for k in (*text_fields, "round")}, version=data.get("version", VERSION))


def _printable(text: str) -> str:
    """`text` with lone surrogates replaced: JSON can carry them (``"\\ud800"``), UTF-8 cannot, so a
    field holding one would make `.encode()` raise long after parsing (found by tests/fuzz)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def json_object(text: str | bytes, *, max_bytes: int, max_depth: int = 1, what: str = "message") -> dict[str, Any]:
    """A JSON object from an untrusted peer, or `EnvelopeError("malformed")`.

    Size and nesting are checked before `json.loads`: its C scanner recurses once per level, and
    100,000 levels overflow the stack of a worker thread instead of raising (SECURITY.md A5).
    """
    if not isinstance(text, str | bytes | bytearray):
        raise EnvelopeError("malformed", "?", f"{what} is not text")
    if len(text) > max_bytes:
        raise EnvelopeError("malformed", "?", f"{what} too large")
    if _nesting_depth(text.encode() if isinstance(text, str) else bytes(text), max_depth) > max_depth:
        raise EnvelopeError("malformed", "?", f"{what} is nested too deeply")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise EnvelopeError("malformed", "?", f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise EnvelopeError("malformed", "?", f"{what} is not a JSON object")
    return data


def _nesting_depth(text: bytes, limit: int) -> int:
    """Deepest bracket nesting outside JSON strings, as far as it matters: at most `limit` means within
    it (0 when there are too few brackets to exceed it); the scan stops at `limit` + 1 levels."""
    if text.count(b"[") + text.count(b"{") <= limit:  # fast path (C speed): every honest envelope
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _ssid_hex(ssid: bytes | str) -> str:
    return ssid.hex() if isinstance(ssid, bytes | bytearray) else ssid.lower()


def _p2p_key(shared: bytes, ephemeral_pub: bytes, recipient_pub: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TAG_KDF + ephemeral_pub + recipient_pub)
    return hkdf.derive(shared)


def seal(identity: NodeIdentity, *, ssid: bytes | str, protocol: str, round: int, kind: str, payload: bytes,
         recipient: str = BROADCAST, recipient_key: NodePublic | bytes | None = None) -> Envelope:
    """Sign (and for a single recipient, encrypt) one outbound message.

    Args:
        recipient: node id, or `BROADCAST` for a public message to every party.
        recipient_key: the recipient's `NodePublic` (or raw X25519 key); required for
            point-to-point, refused for broadcast so a secret is never sent in clear by mistake.
    """
    if recipient == BROADCAST:
        if recipient_key is not None:
            raise ValueError("a broadcast is not encrypted; pass no recipient_key")
        body = bytes(payload)
    else:
        if recipient_key is None:
            raise ValueError(f"point-to-point message to {recipient!r} needs the recipient's X25519 key")
        if isinstance(recipient_key, NodePublic):
            if recipient_key.node_id != recipient:
                raise ValueError(f"recipient key belongs to {recipient_key.node_id!r}, not {recipient!r}")
            recipient_key = recipient_key.x25519_bytes
        header_only = Envelope(_ssid_hex(ssid), protocol, round, kind, identity.node_id, recipient, "", "")
        ephemeral = X25519PrivateKey.generate()
        ephemeral_pub = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        try:
            shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(bytes(recipient_key)))
        except ValueError:
            raise IdentityError(f"invalid X25519 key for {recipient!r}") from None
        key = _p2p_key(shared, ephemeral_pub, bytes(recipient_key))
        body = ephemeral_pub + ChaCha20Poly1305(key).encrypt(_NONCE, bytes(payload), header_only.associated_data())
    unsigned = Envelope(_ssid_hex(ssid), protocol, round, kind, identity.node_id, recipient,
                        base64.b64encode(body).decode(), "")
    return Envelope(**{**unsigned.to_dict(), "signature": identity.sign(unsigned.signed_bytes()).hex()})


def open_envelope(envelope: Envelope, my_identity: NodeIdentity, sender_key: NodePublic | bytes, *,
                  ssid: bytes | str, protocol: str, round: int, kind: str | None = None) -> bytes:
    """Verify, check and decrypt one inbound message; return its payload.

    Order matters (SECURITY.md S2): the signature is checked before anything in the message is
    believed, then the header against what this node expects (replay into another session,
    round or recipient), and only then the ciphertext is decrypted.

    Args:
        sender_key: the claimed sender's registered `NodePublic` (or raw Ed25519 key), looked up
            by the caller from `envelope.sender` in the key's participant list (SECURITY.md I2).
    """
    sender = str(envelope.sender)
    if isinstance(sender_key, NodePublic):
        if sender_key.node_id != sender:
            raise EnvelopeError("unknown_sender", sender, f"key given is for {sender_key.node_id!r}")
        sender_ed = sender_key.ed25519_bytes
    else:
        sender_ed = bytes(sender_key)
    try:
        signature = bytes.fromhex(envelope.signature)
    except (ValueError, TypeError):
        raise EnvelopeError("malformed", sender, "signature is not hex") from None
    if not ed25519_valid(sender_ed, envelope.signed_bytes(), signature):
        raise EnvelopeError("bad_signature", sender, "not signed by the claimed sender's identity key")
    for reason, got, want in (("wrong_ssid", envelope.ssid.lower(), _ssid_hex(ssid)),
                              ("wrong_protocol", envelope.protocol, protocol),
                              ("wrong_round", envelope.round, round),
                              ("wrong_kind", envelope.kind, envelope.kind if kind is None else kind)):
        if got != want:
            raise EnvelopeError(reason, sender, f"expected {want!r}, got {got!r} (replayed or misrouted)")
    if envelope.recipient not in (BROADCAST, my_identity.node_id):
        raise EnvelopeError("wrong_recipient", sender, f"addressed to {envelope.recipient!r}")
    body = envelope.payload_bytes()
    if envelope.is_broadcast:
        return body
    if len(body) < 32 + 16:
        raise EnvelopeError("decryption_failed", sender, "ciphertext too short", attributable=True)
    ephemeral_pub, ciphertext = body[:32], body[32:]
    try:
        shared = my_identity.x25519_exchange(ephemeral_pub)
        key = _p2p_key(shared, ephemeral_pub, my_identity.public().x25519_bytes)
        return ChaCha20Poly1305(key).decrypt(_NONCE, ciphertext, envelope.associated_data())
    except (InvalidTag, IdentityError):
        raise EnvelopeError("decryption_failed", sender, "payload does not decrypt for this node",
                            attributable=True) from None


open = open_envelope  # the name DESIGN/brief use; prefer `open_envelope`, which does not shadow a builtin


class InboxGuard:
    """One message per (ssid, protocol, round, kind, sender, recipient) slot (SECURITY.md S3).

    Relayed delivery is at-least-once, so a byte-identical repeat is normal and ignored; a
    different validly signed message for the same slot is equivocation by its sender. Feed it
    only envelopes whose signature verified (use `receive`), or a relay could forge
    "equivocation" by an honest node.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, int, str, str, str], Envelope] = {}
        self._closed: set[str] = set()
        self.evidence: list[tuple[Envelope, Envelope]] = []

    def admit(self, envelope: Envelope) -> bool:
        """True for a new message, False for an exact repeat; `EquivocationError` otherwise."""
        ssid = envelope.ssid.lower()
        if ssid in self._closed:
            raise EnvelopeError("closed_session", envelope.sender, "session is closed")
        slot = (ssid, envelope.protocol, envelope.round, envelope.kind, envelope.sender, envelope.recipient)
        first = self._seen.get(slot)
        if first is None:
            self._seen[slot] = envelope
            return True
        if first.canonical_bytes() == envelope.canonical_bytes():
            return False
        self.evidence.append((first, envelope))
        raise EquivocationError(first, envelope)

    def receive(self, envelope: Envelope, my_identity: NodeIdentity, sender_key: NodePublic | bytes, *,
                ssid: bytes | str, protocol: str, round: int, kind: str | None = None) -> bytes | None:
        """`open_envelope` then `admit`: the payload of a new message, None for a repeat."""
        payload = open_envelope(envelope, my_identity, sender_key, ssid=ssid, protocol=protocol, round=round,
                                kind=kind)
        return payload if self.admit(envelope) else None

    def close_session(self, ssid: bytes | str) -> None:
        """Refuse anything more for `ssid` and drop its state (finished or aborted session)."""
        ssid_hex = _ssid_hex(ssid)
        self._closed.add(ssid_hex)
        self._seen = {k: v for k, v in self._seen.items() if k[0] != ssid_hex}


def echo_digest(envelopes: Iterable[Envelope]) -> bytes:
    """Hash of a round's broadcasts in a fixed order, for the echo check (SECURITY.md C5).

    Every party signs this over what it received; equal digests mean nobody got a different
    "broadcast" from the relay.
    """
    h = hashlib.sha256(b"mpc-envelope/echo/v1")
    for env in sorted(envelopes, key=lambda e: (e.sender, e.kind, e.round)):
        h.update(_lp(env.canonical_bytes()))
    return h.digest()


__all__ = ["BROADCAST", "Envelope", "EnvelopeError", "EquivocationError", "InboxGuard", "echo_digest",
           "json_object", "open_envelope", "seal"]
