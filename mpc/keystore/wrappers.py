"""Data-key wrapping: who holds the key-encryption key (KEK).

Every sealed file has its own fresh 32-byte AES-256-GCM data key. The data key is stored next to
the ciphertext only in wrapped form; unwrapping needs the KEK, which for production lives in Vault
(transit engine): the node's disk alone never suffices to read a share (SECURITY.md H5, S7 and
cb-mpc "Opaque blobs": envelope keys off-host).

- `VaultTransitWrapper`: ``transit/datakey/plaintext/<key>`` returns a new data key and its
  ciphertext; ``transit/decrypt/<key>`` unwraps it. The KEK never leaves Vault.
- `LocalKeyWrapper`: AES-256-GCM with a KEK from configuration (``KEY_SHARE_ENCRYPTION_KEY``, hex).
  For set-ups without Vault; the KEK sits in the node's environment, so it warns when built.

A `WrappedKey` records the scheme and key reference that made it, so a file is never handed to the
wrong KEK silently: a mismatch is a clear `TransitKeyError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import hvac
import hvac.exceptions
import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpc.keystore.errors import (
    IntegrityError,
    TransitKeyError,
    VaultError,
    VaultPermissionError,
    VaultSealedError,
    VaultUnavailableError,
)

log = logging.getLogger(__name__)

DATA_KEY_BYTES = 32
KEY_SHARE_ENCRYPTION_KEY_ENV = "KEY_SHARE_ENCRYPTION_KEY"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key in wrapped (encrypted) form; safe to store and log.

    Attributes:
        scheme: ``"vault-transit"`` or ``"local-aes256gcm"``.
        key_ref: which KEK: ``"<mount>/<transit key name>"`` for Vault, a KEK fingerprint for local.
        ciphertext: the wrapped data key (Vault's ``vault:vN:...`` string, or base64).
    """

    scheme: str
    key_ref: str
    ciphertext: str

    def to_dict(self) -> dict[str, str]:
        return {"scheme": self.scheme, "key_ref": self.key_ref, "ciphertext": self.ciphertext}

    @classmethod
    def from_dict(cls, data: Any) -> WrappedKey:
        fields = ("scheme", "key_ref", "ciphertext")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in fields):
            raise IntegrityError("wrapped data key record is malformed")
        return cls(data["scheme"], data["key_ref"], data["ciphertext"])


@runtime_checkable
class KeyWrapper(Protocol):
    """Makes and unwraps per-file data keys. Implementations must be safe to call from threads."""

    @property
    def scheme(self) -> str: ...

    @property
    def key_ref(self) -> str: ...

    def new_data_key(self) -> tuple[bytearray, WrappedKey]:
        """Return a fresh 32-byte data key (caller wipes the bytearray) and its wrapped form."""
        ...

    def unwrap(self, wrapped: WrappedKey) -> bytearray:
        """Return the data key; raise `TransitKeyError` if `wrapped` was made by another KEK."""
        ...


def wipe(buf: bytearray) -> None:
    """Overwrite a key buffer. Best effort only: CPython may hold copies (SECURITY.md H5)."""
    for i in range(len(buf)):
        buf[i] = 0


class VaultTransitWrapper:
    """Wraps data keys with a Vault/OpenBao transit key (type aes256-gcm96).

    Args:
        vault_addr: e.g. ``http://127.0.0.1:8200``.
        token: a token whose policy allows ``<mount>/datakey/plaintext/<key>`` and
            ``<mount>/decrypt/<key>``.
        transit_key: name of this node's transit key.
        mount: transit mount path.
        timeout: seconds per HTTP request; an unreachable Vault fails fast as
            `VaultUnavailableError` instead of hanging a round activity.
        verify: TLS verification (bool or CA bundle path), passed to hvac.
        observe: called after every Vault call with (action, seconds, outcome), outcome ``ok`` or the
            keystore error's class name; the participant's metrics use it (mpc/node_metrics.py).
    """

    scheme = "vault-transit"

    def __init__(self, vault_addr: str, token: str, transit_key: str, *, mount: str = "transit",
                 timeout: float = 10.0, verify: bool | str = True,
                 observe: Callable[[str, float, str], None] | None = None) -> None:
        if not transit_key or "/" in transit_key:
            raise TransitKeyError(f"invalid transit key name {transit_key!r}")
        self.vault_addr = vault_addr
        self.transit_key = transit_key
        self.mount = mount.strip("/")
        self._client = hvac.Client(url=vault_addr, token=token, timeout=timeout, verify=verify)
        self._observe = observe

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"VaultTransitWrapper({self.vault_addr!r}, transit_key={self.key_ref!r})"

    @property
    def key_ref(self) -> str:
        return f"{self.mount}/{self.transit_key}"

    def _call(self, action: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one hvac call (timed, when observed) and translate its failures into keystore errors."""
        if self._observe is None:
            return self._call_vault(action, fn, **kwargs)
        started, outcome = time.perf_counter(), "ok"
        try:
            return self._call_vault(action, fn, **kwargs)
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self._observe(action, time.perf_counter() - started, outcome)

    def _call_vault(self, action: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
        where = f"Vault at {self.vault_addr}, transit key {self.key_ref!r}"
        try:
            reply = fn(name=self.transit_key, mount_point=self.mount, **kwargs)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise VaultUnavailableError(f"{action}: {where} is unreachable ({type(exc).__name__})") from None
        except hvac.exceptions.VaultDown as exc:
            raise VaultSealedError(f"{action}: {where} is sealed or down ({_vault_msg(exc)})") from None
        except hvac.exceptions.Forbidden:
            raise VaultPermissionError(f"{action}: {where} refused the token (permission denied)") from None
        except hvac.exceptions.InvalidPath:
            raise TransitKeyError(f"{action}: {where}: path not found (transit mounted at {self.mount!r}?)") from None
        except hvac.exceptions.InvalidRequest as exc:
            msg = _vault_msg(exc)
            if "not found" in msg:
                raise TransitKeyError(f"{action}: {where} does not exist ({msg})") from None
            if "authentication failed" in msg or "ciphertext" in msg:
                raise TransitKeyError(
                    f"{action}: {where} cannot unwrap this data key ({msg}): wrong or replaced transit key, "
                    "or an altered wrapped key") from None
            raise VaultError(f"{action}: {where} rejected the request ({msg})") from None
        except hvac.exceptions.VaultError as exc:
            raise VaultError(f"{action}: {where} failed ({type(exc).__name__}: {_vault_msg(exc)})") from None
        except requests.exceptions.RequestException as exc:
            raise VaultUnavailableError(f"{action}: {where}: HTTP failure ({type(exc).__name__})") from None
        if not isinstance(reply, dict):
            raise VaultError(f"{action}: {where} returned no data")
        return reply

    def new_data_key(self) -> tuple[bytearray, WrappedKey]:
        reply = self._call("generate data key", self._client.secrets.transit.generate_data_key,
                           key_type="plaintext", bits=DATA_KEY_BYTES * 8)
        data = reply.get("data") or {}
        key = bytearray(base64.b64decode(data.get("plaintext", "")))
        ciphertext = data.get("ciphertext")
        if len(key) != DATA_KEY_BYTES or not isinstance(ciphertext, str):
            wipe(key)
            raise VaultError(f"Vault at {self.vault_addr} returned a malformed data key")
        return key, WrappedKey(self.scheme, self.key_ref, ciphertext)

    def unwrap(self, wrapped: WrappedKey) -> bytearray:
        if wrapped.scheme != self.scheme or wrapped.key_ref != self.key_ref:
            raise TransitKeyError(
                f"data key was wrapped by {wrapped.scheme}:{wrapped.key_ref}, "
                f"this node is configured with {self.scheme}:{self.key_ref}")
        reply = self._call("unwrap data key", self._client.secrets.transit.decrypt_data, ciphertext=wrapped.ciphertext)
        key = bytearray(base64.b64decode((reply.get("data") or {}).get("plaintext", "")))
        if len(key) != DATA_KEY_BYTES:
            wipe(key)
            raise IntegrityError(f"transit key {self.key_ref!r} unwrapped a data key of the wrong length")
        return key

    def check(self) -> None:
        """Fail fast at start-up: Vault reachable, unsealed, token valid, transit key present."""
        self._call("check transit key", self._client.secrets.transit.read_key)


class LocalKeyWrapper:
    """Wraps data keys with a KEK held by this process (no Vault).

    Why it warns: the KEK comes from the node's configuration, so whoever reads the node's
    environment and disk can read its shares. Use only where no Vault is available.
    """

    scheme = "local-aes256gcm"
    _WRAP_AD = b"mpc-keystore/local-wrap/v1"

    def __init__(self, kek: bytes) -> None:
        if len(kek) != DATA_KEY_BYTES:
            raise TransitKeyError("local key-encryption key must be exactly 32 bytes")
        self._aead = AESGCM(bytes(kek))
        # A fingerprint names the KEK in each file without revealing it (HMAC, not a bare hash).
        self._key_ref = "kek-" + hmac.new(bytes(kek), b"mpc-keystore/kek-fingerprint", hashlib.sha256).hexdigest()[:16]
        log.warning("keystore: Vault is not used; data keys are wrapped with a local key from %s (%s). "
                    "Anyone with this node's configuration and disk can read its shares.",
                    KEY_SHARE_ENCRYPTION_KEY_ENV, self._key_ref)

    @classmethod
    def from_hex(cls, kek_hex: str) -> LocalKeyWrapper:
        try:
            kek = bytes.fromhex(kek_hex.strip())
        except ValueError:
            raise TransitKeyError(f"{KEY_SHARE_ENCRYPTION_KEY_ENV} is not hex") from None
        return cls(kek)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LocalKeyWrapper:
        env = os.environ if environ is None else environ
        value = env.get(KEY_SHARE_ENCRYPTION_KEY_ENV)
        if not value:
            raise TransitKeyError(f"{KEY_SHARE_ENCRYPTION_KEY_ENV} is not set")
        return cls.from_hex(value)

    def __repr__(self) -> str:
        return f"LocalKeyWrapper({self._key_ref})"

    @property
    def key_ref(self) -> str:
        return self._key_ref

    def new_data_key(self) -> tuple[bytearray, WrappedKey]:
        key = bytearray(secrets.token_bytes(DATA_KEY_BYTES))
        nonce = secrets.token_bytes(12)
        blob = nonce + self._aead.encrypt(nonce, bytes(key), self._WRAP_AD + self._key_ref.encode())
        return key, WrappedKey(self.scheme, self._key_ref, base64.b64encode(blob).decode())

    def unwrap(self, wrapped: WrappedKey) -> bytearray:
        if wrapped.scheme != self.scheme or wrapped.key_ref != self._key_ref:
            raise TransitKeyError(
                f"data key was wrapped by {wrapped.scheme}:{wrapped.key_ref}, "
                f"this node is configured with {self.scheme}:{self._key_ref}")
        try:
            blob = base64.b64decode(wrapped.ciphertext, validate=True)
            key = bytearray(self._aead.decrypt(blob[:12], blob[12:], self._WRAP_AD + self._key_ref.encode()))
        except (InvalidTag, ValueError):
            raise IntegrityError(f"wrapped data key does not authenticate under {self._key_ref}") from None
        if len(key) != DATA_KEY_BYTES:
            raise IntegrityError("unwrapped data key has the wrong length")
        return key

    def check(self) -> None:
        """Nothing to reach; present for symmetry with `VaultTransitWrapper.check`."""


def _vault_msg(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)[:300]
    return str(exc)[:300]


__all__ = ["DATA_KEY_BYTES", "KeyWrapper", "LocalKeyWrapper", "VaultTransitWrapper", "WrappedKey", "wipe"]
