"""Signed intents: what a participant checks before it lets its share be used (DESIGN.md "Trust model").

An intent names one share-using operation exactly: operation, key id, epoch, what is signed, the
signer set (or, for a reshare, the new roster and threshold), an expiry and a unique id. Its bytes are
canonical JSON behind a versioned domain tag, so approvers can read what they sign, and `parse` accepts
only bytes that re-encode identically (one intent, one encoding; SECURITY.md Z2 in spirit).

Every intent carries the API's Ed25519 signature; a key's pinned `KeyPolicy` may require a quorum of
further, distinct approvers per operation. `check_intent` is the node-side verdict: it raises
`IntentRefused` with a stable code (`unauthorized`, `intent_expired`, `intent_mismatch`) and changes
nothing; recording the intent id as used is the caller's durable step, after this check passes.

This module is the format and the signature/quorum rules only; no I/O, no clock of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpc.envelope import EnvelopeError, json_object

INTENT_TAG = b"mpc-signer/intent/v1\x00"
REJECTION_TAG = b"mpc-signer/reject/v1\x00"
"""An approver rejects by signing REJECTION_TAG + the intent bytes (never a valid approval)."""
INTENT_VERSION = 1
OPERATIONS = ("keygen", "sign", "presign", "reshare", "refresh", "export", "disable", "enable", "archive",
              "recover")
QUORUM_OPERATIONS = ("sign", "reshare", "export", "disable")
"""Operations a policy may put under a human quorum (`refresh` and `recover` count as `reshare`)."""
MAX_INTENT_BYTES = 256 * 1024
MAX_APPROVERS = 32
MAX_DEPTH = 18  # the intent object, its details, then at most 16 levels inside them
_HEX32 = re.compile(r"^[0-9a-f]{64}$")
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


class IntentRefused(Exception):
    """A request the node refuses; `code` is stable. It names no node (SECURITY.md A5)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Approver:
    name: str
    public_key: str  # 64 hex characters: an Ed25519 public key


@dataclass(frozen=True)
class KeyPolicy:
    """Pinned at keygen with the share: who must approve each operation on top of the API."""

    approvers: tuple[Approver, ...] = ()
    quorum: Mapping[str, int] = field(default_factory=dict)
    allow_raw_digest: bool = True
    """Whether a bare 32-byte digest may be signed (SECURITY.md I7). Off, the nodes sign only what they
    recompute from a transaction the intent names. Absent from a policy's dict when on, so policies
    pinned before it existed read as on and re-encode identically."""

    def __post_init__(self) -> None:
        if not isinstance(self.allow_raw_digest, bool):
            raise ValueError("allow_raw_digest must be true or false")
        if len(self.approvers) > MAX_APPROVERS:
            raise ValueError(f"at most {MAX_APPROVERS} approvers")
        keys = [a.public_key for a in self.approvers]
        if any(not _HEX32.match(k) for k in keys):
            raise ValueError("approver public keys are 64 lower-case hex characters (Ed25519)")
        if len(set(keys)) != len(keys) or len({a.name for a in self.approvers}) != len(keys):
            raise ValueError("approver names and keys must be distinct")
        for operation, count in self.quorum.items():
            if operation not in QUORUM_OPERATIONS:
                raise ValueError(f"quorum for unknown operation {operation!r}; known: {', '.join(QUORUM_OPERATIONS)}")
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= len(keys):
                raise ValueError(f"quorum of {operation} must be between 0 and the {len(keys)} approvers")

    def required(self, operation: str) -> int:
        """Distinct listed approvers needed for `operation` besides the API (0: the API alone).
        Refresh counts as reshare, and so does a recovery from escrow (it puts the key in a new committee's
        hands); enabling a key again or archiving it (erasing every share) needs the same quorum as disabling it."""
        counted_as = {"refresh": "reshare", "recover": "reshare", "enable": "disable",
                      "archive": "disable"}.get(operation, operation)
        return int(self.quorum.get(counted_as, 0))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"approvers": [{"name": a.name, "public_key": a.public_key} for a in self.approvers],
                               "quorum": dict(sorted(self.quorum.items()))}
        if not self.allow_raw_digest:
            out["allow_raw_digest"] = False
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> KeyPolicy:
        data = data or {}
        try:
            approvers = tuple(Approver(str(a["name"]), str(a["public_key"]).lower()) for a in data.get("approvers", []))
            return cls(approvers, dict(data.get("quorum", {})), data.get("allow_raw_digest", True))
        except (KeyError, TypeError, AttributeError):
            raise ValueError("policy: approvers need name and public_key; quorum maps operations to counts") from None


@dataclass(frozen=True)
class Intent:
    """One authorised operation. `details` holds the operation's own fields (digests, signers, roster, ...)."""

    intent_id: str  # 32 hex characters, random per intent
    operation: str
    key_id: str
    epoch: int
    not_after: int  # Unix seconds
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _HEX_ID.match(self.intent_id):
            raise ValueError("intent_id must be 32 lower-case hex characters")
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}")
        for name in ("epoch", "not_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        _check_json(self.details, "details")

    def to_bytes(self) -> bytes:
        body = {"version": INTENT_VERSION, "intent_id": self.intent_id, "operation": self.operation,
                "key_id": self.key_id, "epoch": self.epoch, "not_after": self.not_after,
                "details": self.details}
        return INTENT_TAG + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    @classmethod
    def parse(cls, raw: bytes) -> Intent:
        """Strict: the tag, the version, the fields and the canonical encoding, or `IntentRefused`."""
        if len(raw) > MAX_INTENT_BYTES or not raw.startswith(INTENT_TAG):
            raise IntentRefused("unauthorized", "not an intent of this platform (tag or size)")
        try:  # size and nesting are checked before json.loads: its C scanner can overflow the stack
            body = json_object(raw[len(INTENT_TAG):], max_bytes=MAX_INTENT_BYTES, max_depth=MAX_DEPTH, what="intent")
        except EnvelopeError as exc:
            raise IntentRefused("unauthorized", f"malformed intent: {exc}") from None
        try:
            if set(body) != {"version", "intent_id", "operation", "key_id", "epoch", "not_after", "details"}:
                raise ValueError("unexpected fields")
            if body["version"] != INTENT_VERSION:
                raise ValueError(f"version {body['version']!r}")
            intent = cls(str(body["intent_id"]), str(body["operation"]), str(body["key_id"]), body["epoch"],
                         body["not_after"], body["details"])
        except (ValueError, TypeError, RecursionError) as exc:
            raise IntentRefused("unauthorized", f"malformed intent: {exc}") from None
        if intent.to_bytes() != raw:
            raise IntentRefused("unauthorized", "intent bytes are not in canonical form")
        return intent


@dataclass(frozen=True)
class Approval:
    """An approver's Ed25519 signature over the intent bytes (made off-platform)."""

    public_key: str
    signature: str  # 128 hex characters


@dataclass(frozen=True)
class SignedIntent:
    """What travels with a session: the intent bytes (hex), the API's signature and human approvals."""

    intent: str
    api_signature: str
    approvals: Sequence[Approval] = ()

    @classmethod
    def of(cls, wire: Any) -> SignedIntent:
        """From the session's wire form (workflows.types.SessionIntent: the same fields)."""
        return cls(str(wire.intent), str(wire.api_signature),
                   tuple(Approval(str(a.public_key), str(a.signature)) for a in wire.approvals))

    @property
    def raw(self) -> bytes:
        try:
            return bytes.fromhex(self.intent)
        except ValueError:
            raise IntentRefused("unauthorized", "intent is not hex") from None


def verify_ed25519(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check_intent(signed: SignedIntent, *, policy: KeyPolicy, api_keys: Iterable[str], now: float,
                 operation: str, key_id: str, epoch: int) -> Intent:
    """The node's verdict on a signed intent for (operation, key, epoch); raises `IntentRefused`.

    Order: parse, the API's signature (any of the trusted `api_keys`, for rotation), expiry, the
    quorum of distinct approvers listed in the pinned `policy`, then the session's own parameters.
    The caller compares the operation details (digests, signer set, roster) and records the id.
    """
    raw = signed.raw
    intent = Intent.parse(raw)
    if not any(verify_ed25519(k, raw, signed.api_signature) for k in api_keys):
        raise IntentRefused("unauthorized", "the intent does not carry a valid signature of the API")
    if now > intent.not_after:
        raise IntentRefused("intent_expired", f"the intent expired at {intent.not_after}")
    listed = {a.public_key for a in policy.approvers}
    valid = {a.public_key for a in signed.approvals
             if a.public_key in listed and verify_ed25519(a.public_key, raw, a.signature)}
    needed = policy.required(intent.operation)
    if len(valid) < needed:
        raise IntentRefused("unauthorized", f"{operation} needs {needed} distinct approvers, {len(valid)} approved")
    if (intent.operation, intent.key_id, intent.epoch) != (operation, key_id, epoch):
        raise IntentRefused("intent_mismatch", "the intent names another operation, key or epoch than the session")
    return intent


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Details hold only strings, integers, booleans, null, lists and string-keyed objects (no floats:
    they have no single canonical encoding), at most 16 levels deep."""
    if depth > MAX_DEPTH - 2:
        raise ValueError(f"{where} is nested too deeply")
    if value is None or isinstance(value, bool | str | int):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, where, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} keys must be strings")
            _check_json(item, where, depth + 1)
        return
    raise ValueError(f"{where} holds a {type(value).__name__}; only JSON strings, integers, lists and objects")


__all__ = [
    "INTENT_TAG",
    "OPERATIONS",
    "QUORUM_OPERATIONS",
    "REJECTION_TAG",
    "Approval",
    "Approver",
    "Intent",
    "IntentRefused",
    "KeyPolicy",
    "SignedIntent",
    "check_intent",
    "verify_ed25519",
]
