"""The API's intent key: who signs intents, and which public keys a participant trusts.

Wherever VAULT_ADDR is set the key is a Vault/OpenBao transit key of type ed25519: the API asks
`transit/sign/<name>` for each signature and the private key never leaves Vault. Only the API's
Vault policy may use that path; participants only read `transit/keys/<name>` (the public key).
Without Vault a local key file is the fallback, with a warning, like the share KEK.

Participants trust INTENT_TRUSTED_KEYS when it is set (hex Ed25519 keys, comma-separated, for
rotation); otherwise every version of the transit key's public key, read on first use and read
again when an intent fails to verify (a rotated key), at most once a minute.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import hvac
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("mpc.intent_keys")

DEFAULT_KEY_NAME = "mpc-api-intent"
REFRESH_INTERVAL = 60.0


class IntentKeyError(Exception):
    """The intent key cannot be used (Vault unreachable, no permission, malformed key file)."""


class IntentSigner(Protocol):
    @property
    def public_keys(self) -> list[str]: ...

    def sign(self, message: bytes) -> str:
        """Ed25519 signature over `message`, 128 hex characters."""
        ...


def _vault_client(addr: str, token: str, timeout: float = 10.0) -> hvac.Client:
    return hvac.Client(url=addr, token=token, timeout=timeout)


def _vault_call(action: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        reply = fn(**kwargs)
    except hvac.exceptions.Forbidden:
        raise IntentKeyError(f"{action}: Vault refused the token (permission denied)") from None
    except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
        raise IntentKeyError(f"{action}: Vault failed ({type(exc).__name__})") from None
    if not isinstance(reply, dict):
        raise IntentKeyError(f"{action}: Vault returned no data")
    return reply


def transit_public_keys(client: hvac.Client, name: str, mount: str) -> list[str]:
    """Hex public keys of every version of an ed25519 transit key, newest first."""
    reply = _vault_call("read intent key", client.secrets.transit.read_key, name=name, mount_point=mount)
    data = reply.get("data") or {}
    if data.get("type") != "ed25519":
        raise IntentKeyError(f"transit key {mount}/{name} is of type {data.get('type')!r}, not ed25519")
    versions = sorted(((int(v), k) for v, k in (data.get("keys") or {}).items()), reverse=True)
    keys = [base64.b64decode(k["public_key"]).hex() for _, k in versions if isinstance(k, dict)]
    if not keys:
        raise IntentKeyError(f"transit key {mount}/{name} holds no public key")
    return keys


class VaultIntentSigner:
    """Signs through Vault transit; creates the ed25519 key on first use if the policy allows."""

    def __init__(self, addr: str, token: str, name: str = DEFAULT_KEY_NAME, mount: str = "transit") -> None:
        self._client = _vault_client(addr, token)
        self.name, self.mount = name, mount.strip("/")
        self._public: list[str] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VaultIntentSigner({self.mount}/{self.name})"

    @property
    def public_keys(self) -> list[str]:
        with self._lock:
            if self._public is None:
                try:
                    self._public = transit_public_keys(self._client, self.name, self.mount)
                except IntentKeyError:
                    _vault_call("create intent key", self._client.secrets.transit.create_key, name=self.name,
                                key_type="ed25519", mount_point=self.mount)
                    self._public = transit_public_keys(self._client, self.name, self.mount)
            return list(self._public)

    def sign(self, message: bytes) -> str:
        self.public_keys  # noqa: B018 - makes sure the key exists
        reply = _vault_call("sign intent", self._client.secrets.transit.sign_data, name=self.name,
                            hash_input=base64.b64encode(message).decode(), mount_point=self.mount)
        signature = str((reply.get("data") or {}).get("signature", ""))
        prefix, _, encoded = signature.rpartition(":")
        if not prefix.startswith("vault:v"):
            raise IntentKeyError("Vault returned a malformed signature")
        raw = base64.b64decode(encoded)
        if len(raw) != 64:
            raise IntentKeyError("Vault returned a signature of the wrong length")
        return raw.hex()


class LocalIntentSigner:
    """Fallback without Vault: an Ed25519 key in a file of this process (mode 0600), created once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except ValueError:
                raise IntentKeyError(f"INTENT_KEY_FILE: {path} is not a PEM private key") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise IntentKeyError(f"INTENT_KEY_FILE: {path} is not an Ed25519 key")
            self._key = key
        else:
            self._key = Ed25519PrivateKey.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        log.warning("intent key from a local file (%s): use Vault transit outside development", path)

    def __repr__(self) -> str:
        return f"LocalIntentSigner({self.path})"

    @property
    def public_keys(self) -> list[str]:
        return [self._key.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw).hex()]

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()


class TrustedIntentKeys:
    """What a participant trusts: configured keys, or the transit key's public versions from Vault."""

    def __init__(self, configured: list[str], *, vault_addr: str = "", vault_token: str = "",
                 name: str = DEFAULT_KEY_NAME, mount: str = "transit") -> None:
        self._configured = [k.lower() for k in configured]
        self._vault = _vault_client(vault_addr, vault_token) if vault_addr and not configured else None
        self.name, self.mount = name, mount.strip("/")
        self._keys: list[str] = list(self._configured)
        self._read_at = 0.0
        self._lock = threading.Lock()

    def keys(self, *, refresh: bool = False) -> list[str]:
        """The trusted keys; `refresh` re-reads Vault (rotation) unless it was read within a minute."""
        if self._vault is None:
            return list(self._keys)
        with self._lock:
            stale = not self._keys or (refresh and time.monotonic() - self._read_at > REFRESH_INTERVAL)
            if stale:
                try:
                    self._keys = transit_public_keys(self._vault, self.name, self.mount)
                    self._read_at = time.monotonic()
                except IntentKeyError as exc:
                    log.warning("cannot read the API intent key: %s", exc)
            return list(self._keys)


def signer_from(settings: Any) -> IntentSigner:
    """The API's signer: Vault transit where VAULT_ADDR is set, else the local key file."""
    if settings.vault_addr:
        return VaultIntentSigner(settings.vault_addr, settings.vault_token.get_secret_value(),
                                 settings.intent_key_name, settings.vault_transit_mount)
    return LocalIntentSigner(Path(settings.intent_key_file))


def trusted_from(settings: Any) -> TrustedIntentKeys:
    return TrustedIntentKeys(list(settings.intent_trusted_keys), vault_addr=settings.vault_addr,
                             vault_token=settings.vault_token.get_secret_value(), name=settings.intent_key_name,
                             mount=settings.vault_transit_mount)
