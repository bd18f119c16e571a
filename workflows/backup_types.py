"""Inputs and outputs of the backup workflow and its activities: public data only.

What travels between a participant and the coordinator is a node's `.meta` files (public by design) and,
with escrow, each share HPKE-encrypted to the offline recovery key; never a share, a nonce or a
presignature in plain text (DESIGN.md rule 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.types import SessionFailure, SessionIntent

META_PAGE_BYTES = 512 * 1024
"""Each participant's `.meta` files travel in pages of at most this many bytes (Temporal payload limit)."""


@dataclass
class BackupRequest:
    """What the Schedule (empty ids: the workflow makes them) or `POST /v1/backups` starts a backup with."""

    backup_id: str = ""
    session_id: str = ""
    requested_by: str = "schedule"


@dataclass
class BackupKey:
    key_id: str
    epoch: int
    holders: list[str]


@dataclass
class BackupPlan:
    """What `backup_begin` found: the set's ids, which nodes hold which keys, and whether to escrow."""

    backup_id: str
    session_id: str
    nodes: list[str]
    keys: list[BackupKey] = field(default_factory=list)
    escrow: bool = False
    total_steps: int = 0


@dataclass
class BackupFile:
    path: str  # relative to the node's folder in the set
    content: str  # base64


@dataclass
class CollectMetaRequest:
    backup_id: str
    after: str = ""  # the last path of the previous page ("" for the first)
    max_bytes: int = META_PAGE_BYTES


@dataclass
class CollectMetaPage:
    node_id: str
    files: list[BackupFile] = field(default_factory=list)
    more: bool = False


@dataclass
class WriteFilesInput:
    backup_id: str
    node_id: str
    files: list[BackupFile]


@dataclass
class ExportIntentsInput:
    backup_id: str
    keys: list[BackupKey]


@dataclass
class KeyExportIntent:
    """The API's export intent for one key (None, with `skipped`, where it cannot sign one alone)."""

    key_id: str
    epoch: int
    holders: list[str]
    recipient: str = ""
    intent: SessionIntent | None = None
    skipped: str = ""


@dataclass
class ExportIntents:
    recipient: str
    intents: list[KeyExportIntent] = field(default_factory=list)


@dataclass
class EscrowShareRequest:
    backup_id: str
    key_id: str
    epoch: int
    recipient: str  # 64 hex: the X25519 recovery key the intent names
    intent: SessionIntent | None = None


@dataclass
class SealManifestInput:
    backup_id: str
    escrow: dict[str, Any] = field(default_factory=dict)


@dataclass
class ManifestDigest:
    backup_id: str
    manifest_sha256: str


@dataclass
class ManifestSignatureResult:
    public_key: str
    signature: str


@dataclass
class FinishBackupInput:
    backup_id: str
    signature: ManifestSignatureResult


@dataclass
class BackupSummary:
    backup_id: str
    path: str
    size_bytes: int
    file_count: int
    duration_ms: int
    deleted: list[str] = field(default_factory=list)  # sets removed by retention


@dataclass
class FailBackupInput:
    backup_id: str
    failure: SessionFailure
    requested_by: str = "schedule"


@dataclass
class BackupStep:
    """One coordinator step of a backup (dump the database, ...)."""

    backup_id: str
