"""Approver keys for `mpc approvers keygen` and `mpc approve`: Ed25519, held by the approver alone.

The private key is a PKCS#8 PEM file written with mode 0600 (never over an existing file); only the
public key (64 hex characters) is printed, to be listed in a key's policy.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpc.intents import REJECTION_TAG


class ApproverKeyError(Exception):
    """The key file is missing, unreadable, or not an Ed25519 private key."""


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def write_new_key(path: Path) -> str:
    """Create a new approver key at `path` (0600, exclusive); return its public key as hex."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ApproverKeyError(f"{path} exists; refusing to overwrite an approver key") from None
    except OSError as exc:
        raise ApproverKeyError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return public_hex(key)


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ApproverKeyError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ApproverKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ApproverKeyError(f"{path} is not an Ed25519 key")
    return key


def decide(key: Ed25519PrivateKey, intent: bytes, *, reject: bool) -> str:
    """The signature an approval (over the intent bytes) or a rejection (tagged) carries, as hex."""
    return key.sign(REJECTION_TAG + intent if reject else intent).hex()
