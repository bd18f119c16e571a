"""AUTH_TYPE=cert: client certificates of one CA (TLS_CLIENT_CA_FILE) as credentials.

The TLS layer (uvicorn's ssl context, gRPC's server credentials) checks the chain to the CA and the validity
period, so a certificate that is expired, not yet valid or signed by another CA never completes the handshake.
Then the certificate's subject (RFC 4514, as `cryptography` writes it) is looked up in `client_certificates`
(`mpc certs add`), the certificate counterpart of an API token: it names the principal and its role. A serial
in `revoked_certificates` (`mpc certs revoke`) is refused whatever the subject. The validity period is checked
again here, so a TLS set-up that forgot to verify still cannot let an expired certificate in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import ROLES, Principal
from api.errors import ApiError
from api.schemas import NODE_ID_PATTERN
from mpc.db.models import AuditLog, ClientCertificate, RevokedCertificate

_NODE_ID = re.compile(NODE_ID_PATTERN)


def serial_hex(serial: int | str) -> str:
    """A serial number as lower-case hex without leading zeros (accepts an int, or hex with optional 0x/colons)."""
    if isinstance(serial, int):
        return format(serial, "x")
    text = serial.strip().lower().removeprefix("0x").replace(":", "")
    if not text or not re.fullmatch(r"[0-9a-f]{1,64}", text):
        raise ValueError("serial: hex digits (optionally 0x-prefixed or colon-separated)")
    return format(int(text, 16), "x")


def subject_of(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def load_certificate(data: bytes) -> x509.Certificate:
    """A PEM or DER certificate."""
    return x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----") else \
        x509.load_der_x509_certificate(data)


async def authenticate_certificate(db: AsyncSession, data: bytes | None) -> Principal:
    """The principal a verified client certificate maps to; `ApiError(401)` with a stable code otherwise."""
    if not data:
        raise ApiError(401, "unauthorized", "a client certificate is required")
    try:
        certificate = load_certificate(data)
    except ValueError:
        raise ApiError(401, "invalid_certificate", "the client certificate cannot be parsed") from None
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise ApiError(401, "certificate_expired", "the client certificate is not valid now")
    if await db.get(RevokedCertificate, serial_hex(certificate.serial_number)) is not None:
        raise ApiError(401, "certificate_revoked", "the client certificate has been revoked")
    subject = subject_of(certificate)
    row = await db.get(ClientCertificate, subject)
    if row is None:
        raise ApiError(401, "unknown_certificate", "no principal is mapped to this certificate's subject")
    return Principal(token_id=f"cert:{subject}", name=row.name, role=row.role, node_id=row.node_id)


async def map_subject(db: AsyncSession, *, subject: str, name: str, role: str, node_id: str | None,
                      actor: str) -> ClientCertificate:
    """Map a subject to a principal (replacing an earlier mapping); the same rules as tokens (`create_token`)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "node" and not node_id:
        raise ValueError("a node certificate needs the node id it is bound to (--node-id)")
    if role != "node" and node_id:
        raise ValueError("only node certificates are bound to a node id")
    if node_id is not None and not _NODE_ID.match(node_id):
        raise ValueError("node id: lower-case letters, digits and dashes, at most 63 characters")
    subject = x509.Name.from_rfc4514_string(subject).rfc4514_string()  # the form subject_of() compares
    if not subject:
        raise ValueError("subject: an RFC 4514 name such as CN=alice,O=Example")
    row = await db.get(ClientCertificate, subject) or ClientCertificate(subject=subject)
    row.name, row.role, row.node_id = name, role, node_id
    db.add(row)
    db.add(AuditLog(actor=actor, action="certificate.map", resource_type="certificate", resource_id=subject[:128],
                    details={"name": name, "role": role, "node_id": node_id}))
    await db.flush()
    return row


async def revoke_serial(db: AsyncSession, serial: int | str, *, reason: str | None, actor: str) -> str:
    """Refuse the certificate with this serial from now on (idempotent); the caller commits."""
    value = serial_hex(serial)
    if await db.get(RevokedCertificate, value) is None:
        db.add(RevokedCertificate(serial=value, reason=reason))
    db.add(AuditLog(actor=actor, action="certificate.revoke", resource_type="certificate", resource_id=value,
                    details={"reason": reason}))
    await db.flush()
    return value


async def mappings(db: AsyncSession) -> tuple[list[ClientCertificate], list[RevokedCertificate]]:
    mapped = (await db.execute(select(ClientCertificate).order_by(ClientCertificate.subject))).scalars().all()
    revoked = (await db.execute(select(RevokedCertificate).order_by(RevokedCertificate.revoked_at))).scalars().all()
    return list(mapped), list(revoked)


async def unmap_subject(db: AsyncSession, subject: str, *, actor: str) -> bool:
    row = await db.get(ClientCertificate, x509.Name.from_rfc4514_string(subject).rfc4514_string())
    if row is None:
        return False
    await db.delete(row)
    db.add(AuditLog(actor=actor, action="certificate.unmap", resource_type="certificate",
                    resource_id=row.subject[:128], details={"name": row.name, "role": row.role}))
    await db.flush()
    return True
