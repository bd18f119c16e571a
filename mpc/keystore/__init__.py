"""Participant-side secret storage: key shares, sealed session state, one-time nonces.

Everything secret a node keeps on disk goes through here, sealed with AES-256-GCM under a per-file
data key wrapped by a KEK the disk does not hold (Vault transit in production). See
`mpc.keystore.shares` and `mpc.keystore.state` for layouts and guarantees.
"""

from mpc.keystore._fs import one_sync
from mpc.keystore.errors import (
    IntegrityError,
    KeystoreError,
    NonceReuseError,
    RetryMismatchError,
    ShareExistsError,
    ShareNotFoundError,
    StaleEpochError,
    StorageError,
    StorageFullError,
    TransitKeyError,
    VaultError,
    VaultPermissionError,
    VaultSealedError,
    VaultUnavailableError,
)
from mpc.keystore.key_cache import CachingKeyWrapper
from mpc.keystore.shares import ShareMeta, ShareRecord, ShareStore
from mpc.keystore.state import NonceEpoch, SecretStateStore
from mpc.keystore.wrappers import KeyWrapper, LocalKeyWrapper, VaultTransitWrapper, WrappedKey

__all__ = [
    "CachingKeyWrapper",
    "IntegrityError",
    "KeyWrapper",
    "KeystoreError",
    "LocalKeyWrapper",
    "NonceEpoch",
    "NonceReuseError",
    "RetryMismatchError",
    "SecretStateStore",
    "ShareExistsError",
    "ShareMeta",
    "ShareNotFoundError",
    "ShareRecord",
    "ShareStore",
    "StaleEpochError",
    "StorageError",
    "StorageFullError",
    "TransitKeyError",
    "VaultError",
    "VaultPermissionError",
    "VaultSealedError",
    "VaultTransitWrapper",
    "VaultUnavailableError",
    "WrappedKey",
    "one_sync",
]
