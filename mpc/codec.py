"""Payload encryption for Temporal (DESIGN.md rule 4; SECURITY.md S4, S7).

Every payload a client or worker sends is AES-256-GCM encrypted with the payload-codec key, which
is separate from the share-wrapping keys. Each encrypted payload names its key id; a payload with
an unknown key id is refused rather than passed through. The API's codec-server endpoints use this
same class, so an authenticated operator can read payloads in the Temporal UI.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
_NONCE_BYTES = 12


class CodecKeyError(ValueError):
    """Missing, malformed or unknown payload-codec key."""


def key_id_for(key: bytes) -> str:
    """A public identifier of a key (its hash prefix): lets several keys coexist during rotation."""
    return hashlib.sha256(b"mpc-payload-codec-key-id" + key).hexdigest()[:16]


def parse_key(hex_key: str) -> bytes:
    try:
        key = bytes.fromhex(hex_key)
    except ValueError:
        raise CodecKeyError("PAYLOAD_CODEC_KEY: must be 32 bytes as 64 hex characters") from None
    if len(key) != 32:
        raise CodecKeyError("PAYLOAD_CODEC_KEY: must be 32 bytes as 64 hex characters")
    return key


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the serialised payload; the first key encrypts, all listed keys decrypt."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise CodecKeyError("PAYLOAD_CODEC_KEY: at least one key is required")
        self._encrypt_id = key_id_for(keys[0])
        self._ciphers = {key_id_for(k): AESGCM(k) for k in keys}

    @classmethod
    def from_hex(cls, hex_keys: Iterable[str]) -> EncryptionCodec:
        return cls([parse_key(k) for k in hex_keys])

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        key_id = self._encrypt_id.encode()
        data = nonce + self._ciphers[self._encrypt_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, "encryption-key-id": key_id}, data=data)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get("encryption-key-id", b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(f"payload encrypted with unknown key id {key_id!r}")
        nonce, body = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        return Payload.FromString(cipher.decrypt(nonce, body, key_id.encode()))
