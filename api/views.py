"""Database rows -> response schemas (the API never returns ORM objects)."""

from __future__ import annotations

from api.schemas import AuditLogPublic, KeyPublic, SessionError, SessionPublic
from api.transactions import session_result, session_transaction
from mpc.db.models import AuditLog, Key, SigningSession
from mpc.intents import KeyPolicy


def key_view(key: Key) -> KeyPublic:
    return KeyPublic(
        key_id=key.key_id, public_key=key.public_key, verifying_key=(key.public_data or {}).get("verifying_key"),
        protocol=key.protocol, curve=key.curve, threshold=key.threshold, total_nodes=key.total_nodes,
        participants=list(key.participants), chain_type=key.chain_type, address=key.address, status=key.status,
        epoch=key.epoch, description=key.description, tags=dict(key.tags or {}),
        policy=KeyPolicy.from_dict((key.public_data or {}).get("policy")).to_dict(), created_at=key.created_at,
        allow_raw_digest=KeyPolicy.from_dict((key.public_data or {}).get("policy")).allow_raw_digest,
    )


def session_view(row: SigningSession) -> SessionPublic:
    return SessionPublic(
        session_id=row.session_id, key_id=row.key_id, workflow_id=row.workflow_id, operation=row.operation,
        protocol=row.protocol,
        status=row.status, current_round=row.current_round, total_rounds=row.total_rounds,
        participants=list(row.participants), message_hash=row.message_hash, signature=row.signature,
        message_hashes=row.message_hashes, signatures=row.signatures,
        error=SessionError(**row.error) if row.error else None, duration_ms=row.duration_ms,
        created_at=row.created_at, completed_at=row.completed_at, derivation_path=row.derivation_path,
        transaction=session_transaction(row), result=session_result(row),
    )


def audit_view(row: AuditLog) -> AuditLogPublic:
    return AuditLogPublic(id=row.id, timestamp=row.timestamp, actor=row.actor, action=row.action,
                          resource_type=row.resource_type, resource_id=row.resource_id, session_id=row.session_id,
                          status=row.status, details=row.details or {})
