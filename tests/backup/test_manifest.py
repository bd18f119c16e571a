"""Backup-set verification (pure): signature, every file, nothing missing or added, canonical manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpc.backup.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    BackupSetError,
    FileEntry,
    Manifest,
    ManifestSignature,
    list_files,
    sha256_file,
    signed_message,
    verify_set,
)
from mpc.intents import INTENT_TAG

SIGNER = Ed25519PrivateKey.generate()
PUBLIC = SIGNER.public_key().public_bytes_raw().hex()


def make_set(root: Path) -> Path:
    root.mkdir()
    (root / "db.sql.gz").write_bytes(b"dump")
    (root / "nodes" / "n1" / "meta" / "k").mkdir(parents=True)
    (root / "nodes" / "n1" / "meta" / "k" / "epoch-0.meta").write_bytes(b'{"public": 1}')
    files = [FileEntry(rel, *sha256_file(root / rel)) for rel in list_files(root)]
    raw = Manifest(root.name, "2026-12-10T00:00:00+00:00", "0006", files, [{"key_id": "k", "epoch": 0}],
                   ["n1"]).to_bytes()
    (root / MANIFEST_FILE).write_bytes(raw)
    import hashlib

    signature = SIGNER.sign(signed_message(root.name, hashlib.sha256(raw).hexdigest())).hex()
    (root / SIGNATURE_FILE).write_bytes(ManifestSignature(PUBLIC, signature).to_bytes())
    return root


def test_a_whole_set_verifies(tmp_path: Path) -> None:
    checked = verify_set(make_set(tmp_path / "set-1"), trusted_keys=[PUBLIC])
    assert checked.manifest.key("k") == {"key_id": "k", "epoch": 0}
    assert not signed_message("set-1", "00" * 32).startswith(INTENT_TAG)  # never readable as an intent


@pytest.mark.parametrize(("change", "named"), [
    (lambda r: (r / "db.sql.gz").write_bytes(b"dumq"), "db.sql.gz"),
    (lambda r: (r / "db.sql.gz").write_bytes(b"dump!"), "db.sql.gz"),
    (lambda r: (r / "nodes/n1/meta/k/epoch-0.meta").unlink(), "nodes/n1/meta/k/epoch-0.meta"),
    (lambda r: (r / "nodes/n1/extra").write_bytes(b"x"), "nodes/n1/extra"),
    (lambda r: (r / SIGNATURE_FILE).unlink(), SIGNATURE_FILE),
    (lambda r: (r / MANIFEST_FILE).write_bytes(json.dumps(json.loads((r / MANIFEST_FILE).read_bytes()),
                                                          indent=1).encode()), MANIFEST_FILE),
])
def test_any_change_names_the_file(tmp_path: Path, change, named: str) -> None:
    root = make_set(tmp_path / "set-1")
    change(root)
    with pytest.raises(BackupSetError) as raised:
        verify_set(root)
    assert raised.value.path == named


def test_signer_must_be_trusted_and_signature_valid(tmp_path: Path) -> None:
    root = make_set(tmp_path / "set-1")
    with pytest.raises(BackupSetError, match="not a trusted"):
        verify_set(root, trusted_keys=["ab" * 32])
    body = json.loads((root / SIGNATURE_FILE).read_bytes())
    body["signature"] = "00" * 64
    (root / SIGNATURE_FILE).write_text(json.dumps(body))
    with pytest.raises(BackupSetError, match="signature does not verify"):
        verify_set(root)
    (tmp_path / "set-1").rename(tmp_path / "set-2")
    with pytest.raises(BackupSetError):
        verify_set(tmp_path / "set-2")
