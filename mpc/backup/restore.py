"""`mpc backup restore SET`: verify the set, load the database, mark restored nodes, put back `.meta` files.

Order, and why: everything is verified first (manifest signature, every file's SHA-256 and size), so a
tampered set changes nothing; `psql --single-transaction` loads the dump all or nothing; then, in one
database transaction, the restore's own bookkeeping: FROST commitments nobody claimed are dropped (their
nonces may have been used after the backup), sessions that were running at backup time are closed, and
each node named as restored (`--nodes`: its disk came back from a snapshot) gets a new random nonce-epoch
token. A node whose last applied token differs bumps its own nonce epoch before it serves a round, so
every nonce, commitment and presignature it made before is refused (SECURITY.md N4).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from mpc.backup.manifest import DB_DUMP_FILE, VerifiedSet, verify_set
from mpc.backup.postgres import restore_database
from mpc.db import create_engine, session_factory
from mpc.db.models import (
    AuditLog,
    Backup,
    Node,
    NodeNonceEpoch,
    NonceCommitment,
    PooledPresignature,
    SigningSession,
)


@dataclass
class RestoreReport:
    backup_id: str
    schema_revision: str | None
    keys: int
    bumped: list[str] = field(default_factory=list)
    dropped_commitments: int = 0
    dropped_presignatures: int = 0
    closed_sessions: int = 0
    meta_written: dict[str, int] = field(default_factory=dict)


async def drop_pooled(db: Any, nodes: set[str] | None = None) -> tuple[int, int]:
    """Forget the unclaimed FROST commitments and GG20 presignatures of `nodes` (None: of every node), in the
    caller's transaction; (commitments, presignatures) dropped. A node whose nonce epoch is bumped refuses
    everything it made before, so a session handed one of them would fail (`nonce_consumed`)."""
    commitments = delete(NonceCommitment).where(NonceCommitment.claimed_session_id.is_(None))
    if nodes is not None:
        commitments = commitments.where(NonceCommitment.node_id.in_(sorted(nodes)))
    dropped = await db.execute(commitments)
    pooled = (await db.execute(select(PooledPresignature.presig_id, PooledPresignature.signer_set)
                               .where(PooledPresignature.claimed_session_id.is_(None)))).all()
    stale = [presig_id for presig_id, signers in pooled if nodes is None or nodes & set(signers.split(","))]
    if stale:
        await db.execute(delete(PooledPresignature).where(PooledPresignature.presig_id.in_(stale)))
    return int(dropped.rowcount or 0), len(stale)


async def bump_node_epochs(sessions: Any, nodes: Iterable[str], reason: str) -> list[str]:
    """A new random token (and counter + 1) per node: each bumps its nonce epoch at its next start. Their
    pooled commitments and presignatures go in the same transaction: the nodes will refuse them."""
    done = []
    async with sessions() as db, db.begin():
        await drop_pooled(db, set(nodes))
        for node in sorted(set(nodes)):
            token = secrets.token_hex(16)
            statement = insert(NodeNonceEpoch).values(node_id=node, counter=1, token=token, reason=reason[:128],
                                                      updated_at=datetime.now(UTC))
            await db.execute(statement.on_conflict_do_update(
                index_elements=[NodeNonceEpoch.node_id],
                set_={"counter": NodeNonceEpoch.counter + 1, "token": token, "reason": reason[:128],
                      "updated_at": datetime.now(UTC)}))
            done.append(node)
    return done


async def _after_load(settings: Any, checked: VerifiedSet, restored_nodes: list[str], actor: str,
                      report: RestoreReport) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    sessions = session_factory(engine)
    manifest = checked.manifest
    try:
        async with sessions() as db, db.begin():
            # The dump's pools may hold what was used after the backup: every unclaimed one goes.
            report.dropped_commitments, report.dropped_presignatures = await drop_pooled(db)
            closed = await db.execute(
                update(SigningSession).where(SigningSession.status.in_(("pending", "running", "awaiting_approval")))
                .values(status="failed", completed_at=datetime.now(UTC),
                        error={"code": "interrupted_by_restore", "message": f"restored from backup "
                                                                            f"{manifest.backup_id}"}))
            report.closed_sessions = int(closed.rowcount or 0)  # type: ignore[attr-defined]
            row = await db.get(Backup, manifest.backup_id)
            if row is not None:  # the dump was taken while this set was being made
                row.status, row.manifest = "completed", _json(checked)
                row.signature, row.signed_by = checked.signature.signature, checked.signature.public_key
                row.completed_at = row.completed_at or datetime.fromisoformat(manifest.created)
                row.size_bytes = sum(f.size for f in manifest.files)
                row.file_count = len(manifest.files) + 2
            await db.execute(update(Backup).where(Backup.status == "running").values(
                status="failed", error={"code": "interrupted_by_restore"}))
            unknown = set(restored_nodes) - set((await db.execute(select(Node.node_id))).scalars())
            if unknown:
                raise RestoreError(f"--nodes: {', '.join(sorted(unknown))} not in the restored database")
            db.add(AuditLog(actor=actor, action="backup.restore", resource_type="backup",
                            resource_id=manifest.backup_id, details={"restored_nodes": restored_nodes,
                                                                     "schema_revision": manifest.schema_revision}))
        report.bumped = await bump_node_epochs(sessions, restored_nodes, f"restore {manifest.backup_id}")
    finally:
        await engine.dispose()


def _json(checked: VerifiedSet) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads((checked.root / "manifest.json").read_bytes())
    return value


class RestoreError(Exception):
    pass


def restore_meta(checked: VerifiedSet, node: str, share_root: Path) -> int:
    """Put a node's `.meta` files back where they are missing (never over a share or an existing file)."""
    prefix = f"nodes/{node}/meta/"
    written = 0
    for entry in checked.manifest.files:
        if not entry.path.startswith(prefix):
            continue
        key_id, name = entry.path[len(prefix):].split("/")
        target = share_root / "keys" / key_id / name
        if target.exists():
            continue
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.write_bytes((checked.root / entry.path).read_bytes())
        target.chmod(0o600)
        written += 1
    return written


def restore_set(settings: Any, root: Path, *, trusted_keys: Iterable[str], restored_nodes: list[str],
                share_roots: dict[str, Path], actor: str = "cli",
                say: Callable[[str], None] = lambda _m: None) -> RestoreReport:
    say(f"verifying {root}")
    checked = verify_set(root, trusted_keys=trusted_keys)
    manifest = checked.manifest
    report = RestoreReport(manifest.backup_id, manifest.schema_revision, len(manifest.keys))
    foreign = sorted((set(restored_nodes) | set(share_roots)) - set(manifest.nodes))
    if foreign:  # checked before anything changes
        raise RestoreError(f"--nodes/--share-dir: {', '.join(foreign)} not in this set (nodes: "
                           f"{', '.join(manifest.nodes) or 'none'})")
    say(f"loading {DB_DUMP_FILE} into {settings.db_name} at {settings.db_host}:{settings.db_port} (one transaction)")
    restore_database(settings, root / DB_DUMP_FILE)
    say("closing interrupted sessions, dropping unclaimed nonce commitments, marking restored nodes")
    asyncio.run(_after_load(settings, checked, restored_nodes, actor, report))
    for node, share_root in sorted(share_roots.items()):
        say(f"restoring .meta files of {node} under {share_root}")
        report.meta_written[node] = restore_meta(checked, node, share_root)
    return report


__all__ = ["RestoreError", "RestoreReport", "bump_node_epochs", "drop_pooled", "restore_meta", "restore_set"]
