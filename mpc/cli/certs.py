"""`mpc certs`: client certificates as credentials (AUTH_TYPE=cert), the counterpart of `mpc tokens`.

`add` maps a certificate subject to a principal and role; `revoke` refuses a certificate by serial number from
then on, whatever its subject; `list` shows both; `remove` forgets a mapping. Database-side admin commands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from mpc.settings import load_settings

T = TypeVar("T")


def add_certs_commands(sub: argparse._SubParsersAction) -> None:
    certs = sub.add_parser("certs", help="client certificates for AUTH_TYPE=cert (talks to the database directly)")
    certs_sub = certs.add_subparsers(dest="certs_cmd", required=True)
    add = certs_sub.add_parser("add", help="map a certificate subject (or a certificate file's) to a principal")
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--subject", help='RFC 4514 subject, e.g. "CN=alice,O=Example"')
    which.add_argument("--cert", type=Path, help="a PEM certificate: map its subject")
    add.add_argument("--name", required=True)
    add.add_argument("--role", default="operator", choices=["admin", "operator", "node", "viewer"])
    add.add_argument("--node-id", default=None, help="role node: the one node id the certificate may register")
    add.set_defaults(handler=_add)
    revoke = certs_sub.add_parser("revoke", help="refuse a certificate from now on, by serial number")
    serial = revoke.add_mutually_exclusive_group(required=True)
    serial.add_argument("--serial", help="hex serial number (0x and colons allowed)")
    serial.add_argument("--cert", type=Path, help="a PEM certificate: revoke its serial")
    revoke.add_argument("--reason", default=None)
    revoke.set_defaults(handler=_revoke)
    remove = certs_sub.add_parser("remove", help="forget a subject's mapping")
    remove.add_argument("--subject", required=True)
    remove.set_defaults(handler=_remove)
    listing = certs_sub.add_parser("list", help="mapped subjects and revoked serials")
    listing.set_defaults(handler=_list)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    from mpc.db import create_engine, session_factory

    settings = load_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _certificate(path: Path) -> Any:
    from api.cert_auth import load_certificate

    return load_certificate(path.read_bytes())


def _add(args: argparse.Namespace) -> int:
    from api.cert_auth import map_subject, subject_of

    try:
        subject = subject_of(_certificate(args.cert)) if args.cert else args.subject
        row = _run(lambda db: map_subject(db, subject=subject, name=args.name, role=args.role,
                                          node_id=args.node_id, actor="cli"))
    except (ValueError, OSError) as exc:
        print(f"mpc certs add: {exc}", file=sys.stderr)
        return 2
    print(f"{row.subject} -> {row.name} ({row.role})")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from api.cert_auth import revoke_serial

    try:
        serial = _certificate(args.cert).serial_number if args.cert else args.serial
        value = _run(lambda db: revoke_serial(db, serial, reason=args.reason, actor="cli"))
    except (ValueError, OSError) as exc:
        print(f"mpc certs revoke: {exc}", file=sys.stderr)
        return 2
    print(f"revoked serial {value}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from api.cert_auth import unmap_subject

    try:
        removed = _run(lambda db: unmap_subject(db, args.subject, actor="cli"))
    except ValueError as exc:
        print(f"mpc certs remove: {exc}", file=sys.stderr)
        return 2
    if not removed:
        print(f"mpc certs remove: no mapping for {args.subject}", file=sys.stderr)
        return 2
    print(f"removed {args.subject}")
    return 0


def _list(_: argparse.Namespace) -> int:
    from api.cert_auth import mappings

    mapped, revoked = _run(mappings)
    for row in mapped:
        print(f"subject {row.subject}\t{row.name}\t{row.role}\t{row.node_id or '-'}")
    for entry in revoked:
        print(f"revoked {entry.serial}\t{entry.revoked_at.isoformat()}\t{entry.reason or '-'}")
    return 0
