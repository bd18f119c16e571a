"""The manifest of a backup set and the checks `mpc backup verify` and `restore` run before anything.

`manifest.json` is canonical JSON: the set's id and time, the schema (alembic) revision, every file of the
set with its SHA-256 and size, and each key's id, epoch, holders and public data. `manifest.sig` holds the
API's Ed25519 signature over MANIFEST_TAG || backup id || SHA-256(manifest.json): the API's intent key
signs it (in the API process, never the coordinator), and the tag keeps it from ever reading as an intent
(mpc/intents.py signs INTENT_TAG || ...).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpc.intents import verify_ed25519

MANIFEST_FORMAT = "mpc-signer/backup/v1"
MANIFEST_TAG = b"mpc-signer/backup-manifest/v1\x00"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
DB_DUMP_FILE = "db.sql.gz"
PARTIAL_SUFFIX = ".partial"
_CHUNK = 1024 * 1024


class BackupSetError(Exception):
    """A set that does not verify; `path` names the file at fault (relative to the set)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def signed_message(backup_id: str, manifest_sha256: str) -> bytes:
    return MANIFEST_TAG + canonical({"backup_id": backup_id, "manifest_sha256": manifest_sha256})


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the set, '/'-separated
    sha256: str
    size: int


@dataclass
class Manifest:
    backup_id: str
    created: str
    schema_revision: str | None
    files: list[FileEntry]
    keys: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    escrow: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return canonical({"format": MANIFEST_FORMAT, "backup_id": self.backup_id, "created": self.created,
                          "schema_revision": self.schema_revision,
                          "files": [{"path": f.path, "sha256": f.sha256, "size": f.size}
                                    for f in sorted(self.files, key=lambda f: f.path)],
                          "keys": self.keys, "nodes": sorted(self.nodes), "escrow": self.escrow})

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("format") != MANIFEST_FORMAT:
                raise ValueError("format")
            files = [FileEntry(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in body["files"]]
            manifest = cls(str(body["backup_id"]), str(body["created"]), body.get("schema_revision"), files,
                           list(body.get("keys") or []), list(body.get("nodes") or []), dict(body.get("escrow") or {}))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupSetError(MANIFEST_FILE, "not a backup manifest of this platform") from None
        if manifest.to_bytes() != raw:
            raise BackupSetError(MANIFEST_FILE, "not in canonical form (edited?)")
        for entry in files:
            _check_relative(entry.path)
        return manifest

    def key(self, key_id: str) -> dict[str, Any] | None:
        return next((k for k in self.keys if k.get("key_id") == key_id), None)


@dataclass(frozen=True)
class ManifestSignature:
    public_key: str  # the API's intent key (Ed25519, hex)
    signature: str

    def to_bytes(self) -> bytes:
        return canonical({"public_key": self.public_key, "signature": self.signature})

    @classmethod
    def parse(cls, raw: bytes) -> ManifestSignature:
        try:
            body = json.loads(raw)
            return cls(str(body["public_key"]), str(body["signature"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupSetError(SIGNATURE_FILE, "not a manifest signature") from None


def _check_relative(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise BackupSetError(path, "a file path outside the set")


def list_files(root: Path) -> list[str]:
    """Every regular file under `root`, relative and sorted, except the manifest and its signature."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            rel = (Path(folder) / name).relative_to(root).as_posix()
            if rel not in (MANIFEST_FILE, SIGNATURE_FILE):
                found.append(rel)
    return sorted(found)


@dataclass
class VerifiedSet:
    root: Path
    manifest: Manifest
    signature: ManifestSignature
    manifest_sha256: str


def verify_set(root: Path, *, trusted_keys: Iterable[str] = ()) -> VerifiedSet:
    """Check a set: manifest signature (by one of `trusted_keys` when given), then every file's size and
    SHA-256, and no file missing or extra. Raises `BackupSetError` naming the first file that is wrong."""
    manifest_path, signature_path = root / MANIFEST_FILE, root / SIGNATURE_FILE
    if not root.is_dir():
        raise BackupSetError(str(root), "no such backup set directory")
    for path in (manifest_path, signature_path):
        if not path.is_file():
            raise BackupSetError(path.name, "missing")
    raw = manifest_path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    signature = ManifestSignature.parse(signature_path.read_bytes())
    manifest = Manifest.parse(raw)
    trusted = [k.lower() for k in trusted_keys]
    if trusted and signature.public_key.lower() not in trusted:
        raise BackupSetError(SIGNATURE_FILE, f"signed by {signature.public_key[:16]}..., which is not a trusted "
                                             "API intent key")
    if not verify_ed25519(signature.public_key, signed_message(manifest.backup_id, digest), signature.signature):
        raise BackupSetError(MANIFEST_FILE, "the signature does not verify (manifest changed after signing)")
    if manifest.backup_id != root.name:
        raise BackupSetError(MANIFEST_FILE, f"belongs to set {manifest.backup_id}, not {root.name}")
    listed = {f.path: f for f in manifest.files}
    for rel in list_files(root):
        if rel not in listed:
            raise BackupSetError(rel, "not listed in the manifest (added after the backup)")
    for entry in manifest.files:
        path = root / entry.path
        if not path.is_file():
            raise BackupSetError(entry.path, "missing")
        sha, size = sha256_file(path)
        if size != entry.size:
            raise BackupSetError(entry.path, f"size {size} bytes, the manifest says {entry.size}")
        if sha != entry.sha256:
            raise BackupSetError(entry.path, "SHA-256 does not match the manifest (file changed)")
    return VerifiedSet(root, manifest, signature, digest)


__all__ = ["DB_DUMP_FILE", "MANIFEST_FILE", "MANIFEST_FORMAT", "MANIFEST_TAG", "PARTIAL_SUFFIX", "SIGNATURE_FILE",
           "BackupSetError", "FileEntry", "Manifest", "ManifestSignature", "VerifiedSet", "canonical", "list_files",
           "sha256_file", "signed_message", "verify_set"]
