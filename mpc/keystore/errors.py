"""Exceptions of the keystore.

One base class, `KeystoreError`, so a participant activity can turn any storage fault into one
Temporal failure type. Messages name what failed (key id, epoch, file, Vault address, transit key
name) and never contain secret bytes, data keys or plaintext: failure text ends up in Temporal
history (SECURITY.md S4, H6).
"""

from __future__ import annotations

from tss.errors import NonceReuseError as _TssNonceReuseError


class KeystoreError(Exception):
    """Base class for every error raised by `mpc.keystore`."""


class VaultError(KeystoreError):
    """Vault (or OpenBao) refused or failed a request; subclasses say why."""


class VaultUnavailableError(VaultError):
    """Vault could not be reached (connection refused, DNS, timeout). Transient: retry later."""


class VaultSealedError(VaultError):
    """Vault answered but is sealed. Transient for the node, needs an operator to unseal."""


class VaultPermissionError(VaultError):
    """The token was refused (expired, revoked, or its policy lacks the transit paths)."""


class TransitKeyError(VaultError):
    """The transit key is missing, or is not the key that wrapped this data key."""


class IntegrityError(KeystoreError):
    """A stored file is corrupt, truncated, tampered with, or belongs to another key/node/epoch.

    Raised instead of ever returning bytes that did not authenticate.
    """


class StorageError(KeystoreError):
    """The file system refused an operation (permissions, I/O error, bad layout)."""


class StorageFullError(StorageError):
    """No space left on the device (ENOSPC/EDQUOT). The previous version is left untouched."""


class ShareNotFoundError(KeystoreError, LookupError):
    """No share (or no sealed record) under the requested name."""


class ShareExistsError(KeystoreError):
    """A different share/record already exists under that name and replacing was not asked for."""


class RetryMismatchError(KeystoreError):
    """A round was asked again with different input than the first time; refused (DESIGN.md rule 2).

    Answering anew could reuse a nonce with another message or commitment list (SECURITY.md N3).
    """


class NonceReuseError(KeystoreError, _TssNonceReuseError):
    """A one-time secret (nonce, presignature) was consumed before. Never retry with it.

    Also a `tss.errors.NonceReuseError`, so protocol code can catch one type for both layers.
    """


class StaleEpochError(NonceReuseError):
    """The record was created in an older nonce epoch (before a restore/failover) and is void.

    SECURITY.md N4: a restore bumps the node's nonce epoch, so no nonce that existed before it can
    be used, even one the restored disk still holds unconsumed.
    """


__all__ = [
    "IntegrityError",
    "KeystoreError",
    "NonceReuseError",
    "RetryMismatchError",
    "ShareExistsError",
    "ShareNotFoundError",
    "StaleEpochError",
    "StorageError",
    "StorageFullError",
    "TransitKeyError",
    "VaultError",
    "VaultPermissionError",
    "VaultSealedError",
    "VaultUnavailableError",
]
