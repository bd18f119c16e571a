"""Metadata database: SQLAlchemy 2 async models, engine/session helpers and Alembic migrations."""

from mpc.db.engine import create_engine, session_factory
from mpc.db.models import Admission, ApiToken, AuditLog, Base, Key, Node, NonceCommitment, SigningSession

__all__ = [
    "Admission",
    "ApiToken",
    "AuditLog",
    "Base",
    "Key",
    "Node",
    "NonceCommitment",
    "SigningSession",
    "create_engine",
    "session_factory",
]
