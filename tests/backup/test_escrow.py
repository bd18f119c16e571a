"""Share escrow format (pure): HPKE to the recovery key, context bound, clear errors for wrong keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mpc.backup.escrow import (
    EscrowContext,
    EscrowError,
    EscrowFile,
    load_recovery_key,
    parse_recipient,
    public_hex_of,
    recipient_hex,
    seal_share,
)

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32(hrp: str, data: bytes) -> str:
    """A reference BIP-173 encoder, written apart from the decoder under test."""
    acc, bits, words = 0, 0, []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    check = 1
    for value in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + words + [0] * 6:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    check ^= 1
    return hrp + "1" + "".join(_BECH32[w] for w in words + [(check >> 5 * (5 - i)) & 31 for i in range(6)])


CONTEXT = EscrowContext("key-1", 3, "node-2", 2)


def test_round_trip_and_context_binding(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate()
    sealed = seal_share(b"secret share bytes", public_hex_of(key), CONTEXT)
    assert b"secret share bytes" not in sealed
    opened = EscrowFile.parse(sealed, what="f")
    assert opened.context == CONTEXT and bytes(opened.open(key, what="f")) == b"secret share bytes"
    # Moving the file to another key, epoch, node or party: the HPKE info differs, nothing decrypts.
    for field, value in (("key_id", "key-2"), ("epoch", 4), ("node_id", "node-3"), ("party_id", 3)):
        body = json.loads(sealed)
        body[field] = value
        with pytest.raises(EscrowError, match="does not decrypt"):
            EscrowFile.parse(json.dumps(body).encode(), what="f").open(key, what="f")


def test_wrong_recovery_key_is_a_clear_error() -> None:
    sealed = seal_share(b"x", public_hex_of(X25519PrivateKey.generate()), CONTEXT)
    with pytest.raises(EscrowError, match="not to the key given"):
        EscrowFile.parse(sealed, what="nodes/n/escrow/k.json").open(X25519PrivateKey.generate(), what="f")


def test_recipient_and_key_forms(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate()
    raw_public = bytes.fromhex(public_hex_of(key))
    assert recipient_hex(_bech32("age", raw_public)) == raw_public.hex()
    assert recipient_hex(raw_public.hex().upper()) == raw_public.hex()
    forms = {"hex": key.private_bytes_raw().hex(),
             "age": _bech32("age-secret-key-", key.private_bytes_raw()).upper(),
             "pem": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()}
    for name, text in forms.items():
        (tmp_path / name).write_text(text)
        assert public_hex_of(load_recovery_key(tmp_path / name)) == raw_public.hex()
    typo = _bech32("age", raw_public)
    typo = typo[:-1] + ("q" if typo[-1] != "q" else "p")
    for bad in ("", "zz", "age1", typo, "ab" * 31):
        with pytest.raises(EscrowError):
            parse_recipient(bad)
    (tmp_path / "bad").write_text("not a key")
    with pytest.raises(EscrowError, match="not a recovery key"):
        load_recovery_key(tmp_path / "bad")
