"""The sealed-file format shared by shares, session state and one-time records.

Layout (all integers big-endian)::

    MAGIC "MPCKS" 0x01 | u32 header length | header (canonical JSON) | 12-byte nonce |
    AES-256-GCM ciphertext+tag | SHA-256 of everything before it

- header: format version, kind (purpose), node id, context (key id + epoch, or namespace +
  session + name, ...), created time, optional public data, and the wrapped data key with the
  scheme/key that wrapped it. It is readable without Vault (for backups and listings) and is
  authenticated, because it is part of the associated data.
- associated data = magic | header | canonical encoding of the *expected* (kind, node, context)
  supplied by the reader. A file copied or renamed to another key, epoch, node or purpose fails
  the tag check even if its header was edited to match.
- the trailing SHA-256 is not a security measure (anyone can recompute it); it turns a truncated
  or bit-flipped file into a precise `IntegrityError` before Vault is asked anything.
- each file gets a fresh data key (so the GCM nonce is never reused under one key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpc.keystore.errors import IntegrityError
from mpc.keystore.wrappers import KeyWrapper, WrappedKey, wipe

MAGIC = b"MPCKS\x01"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 1024 * 1024
_DIGEST = 32
_NONCE = 12
_TAG = 16


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _lp(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def context_ad(kind: str, node_id: str, context: Mapping[str, str | int]) -> bytes:
    """Injective encoding of what a file is for (SECURITY.md Z2 style: tag, then length-prefixed)."""
    out = [b"mpc-keystore/ad/v1", _lp(str(FORMAT_VERSION).encode()), _lp(kind.encode()), _lp(node_id.encode())]
    for name in sorted(context):
        out.append(_lp(name.encode()))
        out.append(_lp(str(context[name]).encode()))
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class BlobHeader:
    """The authenticated, non-secret part of a sealed file."""

    kind: str
    node_id: str
    context: dict[str, str | int]
    created: str
    public: dict[str, Any]
    wrapped_key: WrappedKey


def seal(wrapper: KeyWrapper, *, kind: str, node_id: str, context: Mapping[str, str | int],
         created: str, plaintext: bytes, public: Mapping[str, Any] | None = None) -> bytes:
    """Encrypt `plaintext` under a fresh wrapped data key, bound to (kind, node, context)."""
    data_key, wrapped = wrapper.new_data_key()
    try:
        header = canonical_json({
            "v": FORMAT_VERSION, "kind": kind, "node": node_id, "context": dict(context), "created": created,
            "public": dict(public or {}), "wrap": wrapped.to_dict(),
        })
        if len(header) > MAX_HEADER_BYTES:
            raise IntegrityError(f"public data too large ({len(header)} bytes, limit {MAX_HEADER_BYTES})")
        prefix = MAGIC + struct.pack(">I", len(header)) + header
        nonce = secrets.token_bytes(_NONCE)
        ct = AESGCM(bytes(data_key)).encrypt(nonce, plaintext, prefix + context_ad(kind, node_id, context))
    finally:
        wipe(data_key)
    body = prefix + nonce + ct
    return body + hashlib.sha256(body).digest()


def read_header(blob: bytes, *, what: str) -> tuple[BlobHeader, bytes, bytes]:
    """Check framing and checksum; return the header, the authenticated prefix and nonce|ciphertext."""
    if len(blob) < len(MAGIC) + 4 + _NONCE + _TAG + _DIGEST or not blob.startswith(MAGIC):
        raise IntegrityError(f"{what}: not a keystore file or truncated ({len(blob)} bytes)")
    body, digest = blob[:-_DIGEST], blob[-_DIGEST:]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), digest):
        raise IntegrityError(f"{what}: checksum mismatch (file truncated or corrupted)")
    (hlen,) = struct.unpack(">I", body[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if hlen > MAX_HEADER_BYTES or start + hlen + _NONCE + _TAG > len(body):
        raise IntegrityError(f"{what}: header length out of range")
    try:
        raw = json.loads(body[start:start + hlen])
        if raw.get("v") != FORMAT_VERSION:
            raise IntegrityError(f"{what}: unsupported format version {raw.get('v')!r}")
        header = BlobHeader(kind=str(raw["kind"]), node_id=str(raw["node"]), context=dict(raw["context"]),
                            created=str(raw["created"]), public=dict(raw["public"]),
                            wrapped_key=WrappedKey.from_dict(raw["wrap"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError(f"{what}: header is malformed") from None
    return header, body[:start + hlen], body[start + hlen:]


def open_blob(wrapper: KeyWrapper, blob: bytes, *, kind: str, node_id: str,
              context: Mapping[str, str | int], what: str) -> tuple[BlobHeader, bytes]:
    """Authenticate and decrypt; raise `IntegrityError` rather than return unauthenticated bytes."""
    header, prefix, sealed = read_header(blob, what=what)
    expected = {"kind": kind, "node": node_id, **{f"context.{k}": v for k, v in context.items()}}
    found = {"kind": header.kind, "node": header.node_id, **{f"context.{k}": v for k, v in header.context.items()}}
    if expected != found:
        diff = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
        detail = ", ".join(f"{k}: file has {found.get(k)!r}, expected {expected.get(k)!r}" for k in diff)
        raise IntegrityError(f"{what}: file belongs elsewhere ({detail}); swapped or misplaced file")
    data_key = wrapper.unwrap(header.wrapped_key)
    try:
        plaintext = AESGCM(bytes(data_key)).decrypt(sealed[:_NONCE], sealed[_NONCE:],
                                                     prefix + context_ad(kind, node_id, context))
    except InvalidTag:
        raise IntegrityError(f"{what}: authentication failed (tampered file or wrong associated data)") from None
    finally:
        wipe(data_key)
    return header, plaintext


__all__ = ["BlobHeader", "canonical_json", "open_blob", "read_header", "seal"]
