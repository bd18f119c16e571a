"""Coordinator steps of a backup: record the set, `pg_dump`, write the nodes' files, the manifest, the atomic
rename that completes the set, retention, and cleaning up after a failure.

The set is built in `<BACKUP_DIR>/<id>.partial/`; only `finish` renames it to `<BACKUP_DIR>/<id>/`, after the
API signed its manifest, and only then is the row `completed`. A failed run removes the staging directory,
so a set under its final name is always whole (the manifest lists every file, with its SHA-256).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mpc.backup.manifest import (
    DB_DUMP_FILE,
    MANIFEST_FILE,
    PARTIAL_SUFFIX,
    SIGNATURE_FILE,
    FileEntry,
    Manifest,
    ManifestSignature,
    list_files,
    sha256_file,
    signed_message,
)
from mpc.backup.postgres import PgToolError, dump_database
from mpc.db.models import AuditLog, Backup, Key, SigningSession
from mpc.intents import verify_ed25519
from mpc.keystore import _fs
from mpc.keystore.errors import StorageError
from mpc.protocols import Activity, SessionStatus
from mpc.settings import Settings
from workflows.backup import STEP_FAILED
from workflows.backup_types import (
    BackupKey,
    BackupPlan,
    BackupRequest,
    BackupStep,
    BackupSummary,
    FailBackupInput,
    FinishBackupInput,
    ManifestDigest,
    SealManifestInput,
    WriteFilesInput,
)

BACKED_UP_KEY_STATES = ("active", "disabled", "flagged")
"""Keys whose shares exist on their holders (not pending, failed or archived)."""
TOTAL_STEPS = 5  # database, nodes' files, escrow, manifest, finish


def step_failed(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, {"code": code}, type=STEP_FAILED, non_retryable=True)


def key_entry(key: Key) -> dict[str, Any]:
    """A key as the manifest lists it: everything public that a restore or an escrow check needs."""
    data = dict(key.public_data or {})
    return {"key_id": key.key_id, "epoch": key.epoch, "holders": list(key.participants), "threshold": key.threshold,
            "protocol": key.protocol, "curve": key.curve, "chain_type": key.chain_type, "status": key.status,
            "public_key": key.public_key, "address": key.address, "package": data.get("package"),
            "party_ids": data.get("party_ids"), "policy": data.get("policy"),
            "verifying_key": data.get("verifying_key"), "chain_code": data.get("chain_code")}


class BackupSteps:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @property
    def root(self) -> Path:
        return Path(self.settings.backup_dir)

    def staging(self, backup_id: str) -> Path:
        return self.root / (_fs.check_name(backup_id, "backup id") + PARTIAL_SUFFIX)

    def final(self, backup_id: str) -> Path:
        return self.root / _fs.check_name(backup_id, "backup id")

    @activity.defn(name=Activity.BACKUP_BEGIN.value)
    async def begin(self, request: BackupRequest) -> BackupPlan:
        """Record the set (idempotent), make its staging directory, and list the keys and their holders."""
        info = activity.info()
        async with self.sessions() as db:
            row = await db.get(Backup, request.backup_id)
            if row is None:
                db.add(Backup(backup_id=request.backup_id, session_id=request.session_id, workflow_id=info.workflow_id,
                              status="running", path=str(self.final(request.backup_id)),
                              requested_by=request.requested_by))
            if await db.get(SigningSession, request.session_id) is None:
                db.add(SigningSession(session_id=request.session_id, workflow_id=info.workflow_id, operation="backup",
                                      protocol="-", status=SessionStatus.PENDING, participants=[]))
            keys = (await db.execute(select(Key).where(Key.status.in_(BACKED_UP_KEY_STATES))
                                     .order_by(Key.key_id))).scalars().all()
            nodes = sorted({n for k in keys for n in k.participants})
            session = await db.get(SigningSession, request.session_id)
            if session is not None:
                session.participants = nodes
            await db.commit()
        try:
            _fs.ensure_private_dir(self.root)
            _fs.ensure_private_dir(self.staging(request.backup_id))
        except StorageError as exc:
            raise step_failed("backup_dir_unusable", f"BACKUP_DIR {self.root}: {exc}") from None
        return BackupPlan(request.backup_id, request.session_id, nodes,
                          [BackupKey(k.key_id, k.epoch, list(k.participants)) for k in keys],
                          total_steps=TOTAL_STEPS)

    @activity.defn(name=Activity.BACKUP_DUMP_DATABASE.value)
    async def dump_database(self, step: BackupStep) -> int:
        target = self.staging(step.backup_id) / DB_DUMP_FILE
        target.unlink(missing_ok=True)  # an earlier attempt's partial dump
        try:
            return await asyncio.to_thread(dump_database, self.settings, target)
        except PgToolError as exc:
            raise step_failed("pg_dump_failed", str(exc)) from None

    @activity.defn(name=Activity.BACKUP_WRITE_FILES.value)
    async def write_files(self, batch: WriteFilesInput) -> int:
        """Write a node's files under `nodes/<node>/` (paths are checked: nothing lands outside the set)."""
        base = self.staging(batch.backup_id) / "nodes" / _fs.check_name(batch.node_id, "node id")
        written = 0
        for item in batch.files:
            parts = item.path.split("/")
            try:
                names = [_fs.check_name(p, "path") for p in parts]
                content = base64.b64decode(item.content, validate=True)
            except (StorageError, binascii.Error):
                raise step_failed("bad_node_file", f"{batch.node_id} sent an unusable file {item.path[:200]!r}") \
                    from None
            target = base.joinpath(*names)
            await asyncio.to_thread(self._write_one, target, content)
            written += 1
        return written

    @staticmethod
    def _write_one(target: Path, content: bytes) -> None:
        _fs.ensure_private_dir(target.parent)
        _fs.atomic_write(target, content)

    @activity.defn(name=Activity.BACKUP_SEAL_MANIFEST.value)
    async def seal_manifest(self, request: SealManifestInput) -> ManifestDigest:
        """Write manifest.json from what is on disk (every file's SHA-256 and size) and the keys' public data."""
        staging = self.staging(request.backup_id)
        async with self.sessions() as db:
            row = await db.get(Backup, request.backup_id)
            keys = (await db.execute(select(Key).where(Key.status.in_(BACKED_UP_KEY_STATES))
                                     .order_by(Key.key_id))).scalars().all()
            revision = (await db.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
        if row is None:
            raise step_failed("unknown_backup", f"backup {request.backup_id} is not recorded")
        files = await asyncio.to_thread(self._entries, staging)
        nodes = sorted({f.path.split("/")[1] for f in files if f.path.startswith("nodes/")})
        manifest = Manifest(request.backup_id, row.created_at.astimezone(UTC).isoformat(), revision, files,
                            [key_entry(k) for k in keys], nodes, request.escrow)
        raw = manifest.to_bytes()
        await asyncio.to_thread(_fs.atomic_write, staging / MANIFEST_FILE, raw)
        return ManifestDigest(request.backup_id, sha256_file(staging / MANIFEST_FILE)[0])

    @staticmethod
    def _entries(staging: Path) -> list[FileEntry]:
        return [FileEntry(rel, *sha256_file(staging / rel)) for rel in list_files(staging)]

    @activity.defn(name=Activity.BACKUP_FINISH.value)
    async def finish(self, request: FinishBackupInput) -> BackupSummary:
        staging, final = self.staging(request.backup_id), self.final(request.backup_id)
        if staging.is_dir():
            raw = (staging / MANIFEST_FILE).read_bytes()
            digest = sha256_file(staging / MANIFEST_FILE)[0]
            signature = ManifestSignature(request.signature.public_key, request.signature.signature)
            if not verify_ed25519(signature.public_key, signed_message(request.backup_id, digest), signature.signature):
                raise step_failed("bad_manifest_signature", "the API's signature does not cover this manifest")
            await asyncio.to_thread(self._complete, staging, final, signature.to_bytes())
        elif not final.is_dir():
            raise step_failed("set_missing", f"neither {staging} nor {final} exists")
        else:
            raw = (final / MANIFEST_FILE).read_bytes()
        manifest = Manifest.parse(raw)
        size = sum(f.size for f in manifest.files) + len(raw)
        now = datetime.now(UTC)
        async with self.sessions() as db:
            row = await db.get(Backup, request.backup_id)
            if row is None:
                raise step_failed("unknown_backup", f"backup {request.backup_id} is not recorded")
            row.status, row.completed_at = "completed", now
            row.manifest = _json_of(raw)
            row.signature, row.signed_by = request.signature.signature, request.signature.public_key
            row.size_bytes, row.file_count = size, len(manifest.files) + 2
            row.duration_ms = int((now - row.created_at).total_seconds() * 1000)
            await db.commit()
            summary = BackupSummary(request.backup_id, str(final), size, len(manifest.files) + 2, row.duration_ms)
        summary.deleted = await self._retention(request.backup_id)
        return summary

    @staticmethod
    def _complete(staging: Path, final: Path, signature: bytes) -> None:
        _fs.atomic_write(staging / SIGNATURE_FILE, signature)
        for folder, _dirs, names in os.walk(staging):
            _fs.fsync_dir(Path(folder))
            del names
        os.rename(staging, final)  # the set exists from here on, whole
        _fs.fsync_dir(final.parent)

    async def _retention(self, keep: str) -> list[str]:
        """Delete completed sets older than BACKUP_RETENTION_DAYS (never the one just made)."""
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.backup_retention_days)
        async with self.sessions() as db:
            old = (await db.execute(select(Backup).where(Backup.status == "completed", Backup.created_at < cutoff,
                                                         Backup.backup_id != keep))).scalars().all()
            deleted = []
            for row in old:
                await asyncio.to_thread(shutil.rmtree, self.final(row.backup_id), True)
                row.status = "deleted"
                deleted.append(row.backup_id)
                db.add(AuditLog(actor="backup-retention", action="backup.deleted", resource_type="backup",
                                resource_id=row.backup_id, details={"created_at": row.created_at.isoformat(),
                                                                    "retention_days":
                                                                        self.settings.backup_retention_days}))
            await db.commit()
        return deleted

    @activity.defn(name=Activity.BACKUP_FAIL.value)
    async def fail(self, request: FailBackupInput) -> None:
        """Remove what the run wrote (also a set it may have renamed) and record the failure with its cause."""
        await asyncio.to_thread(shutil.rmtree, self.staging(request.backup_id), True)
        failure = request.failure
        error = {"code": failure.code, "message": failure.message, "node": failure.node, "nodes": failure.nodes}
        async with self.sessions() as db:
            row = await db.get(Backup, request.backup_id)
            if row is not None and row.status != "completed":
                await asyncio.to_thread(shutil.rmtree, self.final(request.backup_id), True)
                row.status, row.error, row.completed_at = "failed", error, datetime.now(UTC)
                row.duration_ms = int((row.completed_at - row.created_at).total_seconds() * 1000)
                session = await db.get(SigningSession, row.session_id) if row.session_id else None
                if session is not None:
                    session.status, session.error = SessionStatus.FAILED, error
                    session.completed_at = row.completed_at
                    session.duration_ms = row.duration_ms
            db.add(AuditLog(actor=request.requested_by, action="backup.failed", resource_type="backup",
                            resource_id=request.backup_id, session_id=row.session_id if row else None,
                            status="failure", details=error))
            await db.commit()


def _json_of(raw: bytes) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(raw)
    return value
