"""Share escrow: a holder's share encrypted to the operator's offline recovery key (RFC 9180 HPKE).

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, base mode, single shot, from
`cryptography` (its Rust/OpenSSL HPKE). The recovery public key is an X25519 key, given as 64 hex
characters or as an age recipient (`age1...`, the same key in bech32); its private half (64 hex, a PEM
X25519 key, or an age identity `AGE-SECRET-KEY-1...`) never reaches the platform.

The escrow context (format, key id, epoch, node, party id) is HPKE's `info`: it enters the key schedule,
so a ciphertext moved to another key, epoch or node does not decrypt (bound like associated data).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

ESCROW_FORMAT = "mpc-signer/escrow/v1"
SUITE_NAME = "HPKE-base DHKEM(X25519,HKDF-SHA256) HKDF-SHA256 ChaCha20Poly1305"
HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_SUITE = HPKE_SUITE
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
MAX_ESCROW_BYTES = 1024 * 1024


class EscrowError(ValueError):
    """A recovery key or escrow file that cannot be used; `str()` says which and why (never secret bytes)."""


def _bech32_decode(text: str, hrp: str) -> bytes:
    """BIP-173 bech32 (as age uses it, without the 90-character limit) to bytes."""
    text = text.lower()
    sep = text.rfind("1")
    if text[:sep] != hrp or sep < 1 or any(c not in _BECH32 for c in text[sep + 1:]) or len(text) - sep < 8:
        raise EscrowError(f"not a bech32 string with prefix {hrp!r}")
    data = [_BECH32.index(c) for c in text[sep + 1:]]
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    if check != 1:
        raise EscrowError("bech32 checksum mismatch (mistyped key?)")
    acc, bits, out = 0, 0, bytearray()
    for value in data[:-6]:
        acc, bits = (acc << 5) | value, bits + 5
        while bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return bytes(out)


def parse_recipient(text: str) -> X25519PublicKey:
    """The recovery public key: 64 hex characters (raw X25519) or an age recipient `age1...`."""
    text = text.strip()
    if _HEX64.match(text):
        raw = bytes.fromhex(text)
    elif text.lower().startswith("age1"):
        raw = _bech32_decode(text, "age")
    else:
        raise EscrowError("BACKUP_RECOVERY_PUBLIC_KEY: an X25519 public key as 64 hex characters or an age "
                          "recipient (age1...)")
    if len(raw) != 32:
        raise EscrowError("BACKUP_RECOVERY_PUBLIC_KEY: an X25519 public key has 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def recipient_hex(text: str) -> str:
    """The canonical form intents and escrow files name the recipient in (64 lower-case hex)."""
    return parse_recipient(text).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_recovery_key(path: Path) -> X25519PrivateKey:
    """The operator's private recovery key from a file: 64 hex characters, an age identity or a PEM."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise EscrowError(f"cannot read the recovery key {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise EscrowError(f"{path} is not a recovery key (not text)") from None
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) == 1 and _HEX64.match(lines[0]):
        return X25519PrivateKey.from_private_bytes(bytes.fromhex(lines[0]))
    if len(lines) == 1 and lines[0].upper().startswith("AGE-SECRET-KEY-1"):
        return X25519PrivateKey.from_private_bytes(_bech32_decode(lines[0], "age-secret-key-"))
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise EscrowError(f"{path} is not a recovery key (64 hex, AGE-SECRET-KEY-1..., or an X25519 PEM)") from None
    if not isinstance(key, X25519PrivateKey):
        raise EscrowError(f"{path} holds a {type(key).__name__}, not an X25519 key")
    return key


def public_hex_of(key: X25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


@dataclass(frozen=True)
class EscrowContext:
    """What an escrowed share is: bound into the HPKE key schedule as `info`."""

    key_id: str
    epoch: int
    node_id: str
    party_id: int

    def info(self) -> bytes:
        return json.dumps({"format": ESCROW_FORMAT, "key_id": self.key_id, "epoch": self.epoch,
                           "node_id": self.node_id, "party_id": self.party_id},
                          sort_keys=True, separators=(",", ":")).encode()


def seal_share(share: bytes, recipient: str, context: EscrowContext) -> bytes:
    """The escrow file of one share: JSON naming the context and recipient, with the HPKE ciphertext."""
    public = parse_recipient(recipient)
    ciphertext = _SUITE.encrypt(bytes(share), public, info=context.info())
    body = {"format": ESCROW_FORMAT, "suite": SUITE_NAME, "recipient": recipient_hex(recipient),
            "key_id": context.key_id, "epoch": context.epoch, "node_id": context.node_id,
            "party_id": context.party_id, "ciphertext": base64.b64encode(ciphertext).decode()}
    return json.dumps(body, sort_keys=True, indent=1).encode()


@dataclass(frozen=True)
class EscrowFile:
    context: EscrowContext
    recipient: str
    ciphertext: bytes

    @classmethod
    def parse(cls, raw: bytes, *, what: str) -> EscrowFile:
        if len(raw) > MAX_ESCROW_BYTES:
            raise EscrowError(f"{what}: too large for an escrow file")
        try:
            body: dict[str, Any] = json.loads(raw)
            if body.get("format") != ESCROW_FORMAT or body.get("suite") != SUITE_NAME:
                raise ValueError("format")
            context = EscrowContext(str(body["key_id"]), int(body["epoch"]), str(body["node_id"]),
                                    int(body["party_id"]))
            return cls(context, str(body["recipient"]), base64.b64decode(body["ciphertext"], validate=True))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EscrowError(f"{what}: not an escrow file of this platform") from None

    def open(self, key: X25519PrivateKey, *, what: str) -> bytearray:
        """The share (a bytearray: overwrite it when done). A wrong key is a clear error."""
        if public_hex_of(key) != self.recipient:
            raise EscrowError(f"{what}: encrypted to recovery key {self.recipient[:16]}..., not to the key given "
                              f"({public_hex_of(key)[:16]}...)")
        try:
            return bytearray(_SUITE.decrypt(self.ciphertext, key, info=self.context.info()))
        except InvalidTag:
            raise EscrowError(f"{what}: does not decrypt (tampered, or its key id, epoch or node was changed)") \
                from None


__all__ = ["ESCROW_FORMAT", "HPKE_SUITE", "SUITE_NAME", "EscrowContext", "EscrowError", "EscrowFile",
           "load_recovery_key", "parse_recipient", "public_hex_of", "recipient_hex", "seal_share"]
