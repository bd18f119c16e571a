"""Tables of the metadata database.

`keys`, `nodes`, `signing_sessions` and `audit_logs` follow the deployment guide; `api_tokens`
stores API tokens (only their SHA-256 hash). Nothing here is secret: shares, nonces and
Paillier secrets live only on participant nodes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")

SHARED_WORKFLOW_PREFIX = "sign-batch-"
"""The workflow ids several session rows may share: a batch of coalesced sign requests (api/coalesce.py)."""


class Base(DeclarativeBase):
    pass


def _uuid() -> str:
    return str(uuid.uuid4())


class Key(Base):
    __tablename__ = "keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True, default=_uuid)
    protocol: Mapped[str] = mapped_column(String(16))
    curve: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[int] = mapped_column(Integer)
    total_nodes: Mapped[int] = mapped_column(Integer)
    participants: Mapped[list[str]] = mapped_column(JsonType, default=list)
    public_key: Mapped[str | None] = mapped_column(String(264), nullable=True)
    chain_type: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(128), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    public_data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        Index("ix_keys_status", "status"),
        Index("ix_keys_protocol", "protocol"),
        Index("ix_keys_created_at", "created_at"),
    )


class Admission(StrEnum):
    """Whether an admin let a node take part in keys (DESIGN.md "Node admission")."""

    PENDING = "pending"
    ADMITTED = "admitted"


class Node(Base):
    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_type: Mapped[str] = mapped_column(String(16), default="participant")
    endpoint: Mapped[str] = mapped_column(String(256), default="")
    signing_public_key: Mapped[str] = mapped_column(String(128))
    encryption_public_key: Mapped[str] = mapped_column(String(128))
    capabilities: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    metrics_url: Mapped[str] = mapped_column(String(256), default="", server_default="")
    """Where Prometheus scrapes the node, as its signed registration announced it."""
    status: Mapped[str] = mapped_column(String(16), default="online")
    admission: Mapped[str] = mapped_column(String(16), default=Admission.PENDING, server_default=Admission.PENDING)
    """`pending` until an admin approves the node (`admitted`); keygen and signing use admitted nodes only."""
    heartbeat_timestamp: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The node's own signed timestamp of its last registration or heartbeat: each must be later."""
    pool_levels: Mapped[dict[str, int] | None] = mapped_column(JsonType, nullable=True)
    """One-time secrets ready on the node by pool, as its last signed heartbeat reported them."""
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_heartbeat: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_nodes_status", "status"),
        Index("ix_nodes_last_heartbeat", "last_heartbeat"),
        Index("ix_nodes_admission", "admission"),
    )


class SigningSession(Base):
    __tablename__ = "signing_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True, default=_uuid)
    key_id: Mapped[str | None] = mapped_column(ForeignKey("keys.key_id", ondelete="CASCADE"), nullable=True)
    workflow_id: Mapped[str] = mapped_column(String(256))
    """Unique, except that coalesced sign requests (api/coalesce.py) share their batch's `sign-batch-` workflow."""
    operation: Mapped[str] = mapped_column(String(16))
    protocol: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="pending")
    message_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    participants: Mapped[list[str]] = mapped_column(JsonType, default=list)
    current_round: Mapped[int] = mapped_column(Integer, default=0)
    total_rounds: Mapped[int] = mapped_column(Integer, default=0)
    signature: Mapped[str | None] = mapped_column(String(512), nullable=True)
    message_hashes: Mapped[list[str] | None] = mapped_column(JsonType, nullable=True)
    """A batch session (`digests`): its digests in request order; `signatures` follows the same order."""
    signatures: Mapped[list[str] | None] = mapped_column(JsonType, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    derivation_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    """Signing with the key's BIP-32 child at this path (None: the key itself)."""
    transaction: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    """A transaction session: {"chain", "payload" (as sent), "summary"}; the signed result is built from it."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_signing_sessions_key_id", "key_id"),
        Index("ix_signing_sessions_status", "status"),
        Index("ix_signing_sessions_created_at", "created_at"),
        # An Idempotency-Key's workflow id is unique here: a concurrent repeat fails its insert.
        Index("uq_signing_sessions_workflow_id", "workflow_id", unique=True,
              postgresql_where=text(f"workflow_id NOT LIKE '{SHARED_WORKFLOW_PREFIX}%'")),
        Index("ix_signing_sessions_workflow_id", "workflow_id"),
    )


class AuditLog(Base):
    __tablename__ = "audit_logs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="success")
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_audit_logs_timestamp", "timestamp"),
        Index("ix_audit_logs_action", "action"),
        Index("ix_audit_logs_resource", "resource_type", "resource_id"),
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="operator")
    node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """For role `node`: the one node this token may register and heartbeat."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ClientCertificate(Base):
    """AUTH_TYPE=cert: a client-certificate subject mapped to a principal, the certificate counterpart of an API
    token (`mpc certs add`). Any certificate of the configured CA with this exact subject is this principal, until
    its serial is revoked (`RevokedCertificate`) or the mapping is removed."""

    __tablename__ = "client_certificates"

    subject: Mapped[str] = mapped_column(String(512), primary_key=True)
    """RFC 4514 string of the certificate's subject, as `cryptography` writes it (e.g. `CN=alice,O=Example`)."""
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RevokedCertificate(Base):
    """A client certificate refused from now on, by serial number (lower-case hex), whatever its subject."""

    __tablename__ = "revoked_certificates"

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NonceCommitment(Base):
    """A participant's published FROST nonce commitment (the secret nonce stays on the node).

    The coordinator hands each commitment to exactly one signing session (`claimed_session_id`),
    and the unique constraint on (key_id, commitment) refuses any commitment seen before for the
    key (RFC 9591 §7.3 hedge, SECURITY.md N8).
    """

    __tablename__ = "nonce_commitments"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("keys.key_id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    nonce_id: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    commitment: Mapped[str] = mapped_column(String(200))
    envelope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    claimed_session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("key_id", "commitment", name="uq_nonce_commitments_key_commitment"),
        UniqueConstraint("node_id", "nonce_id", name="uq_nonce_commitments_node_nonce"),
        Index("ix_nonce_commitments_available", "key_id", "node_id", "claimed_session_id"),
    )


class Backup(Base):
    """One backup set (mpc/backup): where it is, whether it completed, and its signed manifest."""

    __tablename__ = "backups"

    backup_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    workflow_id: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="running")
    """running, completed, failed, or deleted (retention)."""
    path: Mapped[str] = mapped_column(String(1024), default="")
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Set by the API when it signs the manifest: it signs one manifest per backup, once."""
    signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    signed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    file_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(128), default="schedule")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_backups_status", "status"),
        Index("ix_backups_created_at", "created_at"),
    )


class NodeNonceEpoch(Base):
    """A participant's nonce-epoch counter, kept off its disk (SECURITY.md N4).

    A restore sets a new random `token` (and counts up); a participant whose last applied token differs
    bumps its own nonce epoch before it serves any round, so every nonce, commitment and presignature made
    before the restore is void. A random token, because a restored database brings back older counters.
    """

    __tablename__ = "node_nonce_epochs"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    counter: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(128), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PooledPresignature(Base):
    """A GG20 presignature made ahead of a sign request, known here by its public id and R only.

    Each signer keeps its part (k_i, σ_i) sealed on its own disk. A presignature belongs to one key, one
    epoch and one signer set (`signer_set`: the node ids, sorted, comma-separated); the coordinator hands it
    to exactly one signing session (`claimed_session_id`), and every signer consumes its part durably once
    more on its own (SECURITY.md N2, N5), so a row claimed twice still cannot sign twice.
    """

    __tablename__ = "gg20_presignatures"

    presig_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("keys.key_id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    signer_set: Mapped[str] = mapped_column(String(512))
    big_r: Mapped[str] = mapped_column(String(66))
    shares_public: Mapped[dict[str, Any]] = mapped_column(JsonType)  # R, each signer's R̄_j and S_j (public)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    claimed_session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_gg20_presignatures_available", "key_id", "signer_set", "claimed_session_id"),
    )
