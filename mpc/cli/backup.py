"""`mpc backup run|list|show` (through the API) and `mpc backup verify|restore` (offline, on the set itself).

`verify` needs no platform: the set's directory (or its id under BACKUP_DIR), and with `--recovery-key` the
operator's offline key to check the escrow. `restore` talks to PostgreSQL directly (DB_* settings), as the
deployment guide's `psql` step does. Both exit 1 naming the file when anything does not match, and then
change nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpc.cli.client_api import ApiClient

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2
BACKUP_FIELDS = ("backup_id", "status", "session_id", "path", "size_bytes", "file_count", "duration_ms",
                 "requested_by", "signed_by", "created_at", "completed_at")


def add_backup_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
                        run: Any) -> None:
    backup = sub.add_parser("backup", help="backup sets: run, list, show, verify, restore")
    backup_sub = backup.add_subparsers(dest="backup_cmd", required=True)
    start = backup_sub.add_parser("run", parents=[common], help="run a backup now and follow its progress")
    start.add_argument("--no-wait", action="store_true", help="print the started run and return at once")
    start.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (3600)")
    start.set_defaults(handler=run(cmd_run))
    listing = backup_sub.add_parser("list", parents=[common], help="backup sets, newest first")
    listing.add_argument("--status", default=None)
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=run(cmd_list))
    show = backup_sub.add_parser("show", parents=[common], help="one backup set and its manifest")
    show.add_argument("backup_id")
    show.set_defaults(handler=run(cmd_show))

    offline = argparse.ArgumentParser(add_help=False)
    offline.add_argument("set", metavar="SET", help="the set's directory, or its id under BACKUP_DIR")
    offline.add_argument("--trusted-key", action="append", default=[], metavar="HEX",
                         help="API intent public key the manifest must be signed by (default: INTENT_TRUSTED_KEYS "
                              "or the transit key's versions from Vault; without either, any signer is reported)")
    verify = backup_sub.add_parser("verify", parents=[offline], help="check a set offline (signature, every file)")
    verify.add_argument("--recovery-key", default=None, metavar="FILE",
                        help="also decrypt the escrowed shares and check that t of them give each group key")
    verify.set_defaults(handler=cmd_verify)
    restore = backup_sub.add_parser("restore", parents=[offline], help="restore the database (and .meta files)")
    restore.add_argument("--nodes", default="", help="nodes whose disks were restored from a snapshot, comma-"
                                                     "separated: they void every nonce made before (N4)")
    restore.add_argument("--share-dir", action="append", default=[], metavar="NODE=PATH",
                         help="put NODE's .meta files back under its KEY_SHARE_STORAGE_PATH where missing")
    restore.add_argument("--yes", action="store_true", help="do not ask before replacing the database")
    restore.set_defaults(handler=cmd_restore)


def cmd_run(client: ApiClient, args: argparse.Namespace) -> int:
    started = client.post("/v1/backups", {})
    if args.no_wait:
        print(json.dumps(started, indent=2) if args.json else
              f"backup_id: {started['backup_id']}\nsession_id: {started['session_id']}\nstatus: {started['status']}")
        return EXIT_OK
    session = client.wait_session(started["session_id"], args.timeout)
    backup = client.get(f"/v1/backups/{started['backup_id']}")
    if session["status"] == "failed":
        error = session.get("error") or {}
        print(f"mpc: backup {started['backup_id']} failed: {error.get('code')}: {error.get('message')}",
              file=sys.stderr)
        return EXIT_MISMATCH
    _print(backup, args)
    return EXIT_OK


def cmd_list(client: ApiClient, args: argparse.Namespace) -> int:
    reply = client.get("/v1/backups", status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps(reply, indent=2))
        return EXIT_OK
    rows = [[b["backup_id"], b["status"], str(b["size_bytes"] or ""), str(b["duration_ms"] or ""),
             b["created_at"][:19], b["requested_by"]] for b in reply["backups"]]
    header = ["BACKUP_ID", "STATUS", "BYTES", "MS", "CREATED", "BY"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"{reply['total']} set(s)")
    return EXIT_OK


def cmd_show(client: ApiClient, args: argparse.Namespace) -> int:
    _print(client.get(f"/v1/backups/{args.backup_id}"), args)
    return EXIT_OK


def _print(backup: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(backup, indent=2))
        return
    lines = [f"{name}: {backup[name]}" for name in BACKUP_FIELDS if backup.get(name) is not None]
    manifest = backup.get("manifest") or {}
    if manifest:
        lines.append(f"schema_revision: {manifest.get('schema_revision')}")
        lines.append(f"files: {len(manifest.get('files') or [])}, keys: {len(manifest.get('keys') or [])}, "
                     f"nodes: {','.join(manifest.get('nodes') or [])}")
        escrow = manifest.get("escrow") or {}
        if escrow:
            lines.append(f"escrow: recipient {escrow.get('recipient', '')[:16]}..., "
                         f"{sum('escrowed' in e for e in (escrow.get('keys') or {}).values())} key(s)")
    if backup.get("error"):
        lines.append(f"error: {backup['error'].get('code')}: {backup['error'].get('message')}")
    print("\n".join(lines))


def _resolve(args: argparse.Namespace) -> tuple[Any, Path, list[str]]:
    from mpc.intent_keys import trusted_from
    from mpc.settings import load_settings

    settings = load_settings()
    root = Path(args.set)
    if not root.is_dir() and "/" not in args.set:
        root = Path(settings.backup_dir) / args.set
    trusted = [k.lower() for k in args.trusted_key] or trusted_from(settings).keys()
    return settings, root, trusted


def cmd_verify(args: argparse.Namespace) -> int:
    from mpc.backup.escrow import EscrowError, load_recovery_key
    from mpc.backup.escrow_check import check_escrow
    from mpc.backup.manifest import BackupSetError, verify_set

    _settings, root, trusted = _resolve(args)
    try:
        recovery = load_recovery_key(Path(args.recovery_key)) if args.recovery_key else None
    except EscrowError as exc:
        print(f"mpc: error recovery_key: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        checked = verify_set(root, trusted_keys=trusted)
        print(f"{root}: manifest signed by {checked.signature.public_key}"
              f"{'' if trusted else ' (no trusted key configured: check this key)'}; "
              f"{len(checked.manifest.files)} files match")
        if recovery is not None:
            report = check_escrow(checked, recovery)
            for key_id in report.verified:
                print(f"escrow of {key_id}: every share decrypts and matches, t of them give the group key")
            for key_id, why in report.skipped.items():
                print(f"escrow of {key_id}: not in this set ({why})")
    except BackupSetError as exc:
        print(f"mpc: backup set {root} does not verify: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from mpc.backup.manifest import BackupSetError
    from mpc.backup.postgres import PgToolError
    from mpc.backup.restore import RestoreError, restore_set

    settings, root, trusted = _resolve(args)
    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    share_roots: dict[str, Path] = {}
    for item in args.share_dir:
        node, sep, path = item.partition("=")
        if not sep or not node or not path:
            print(f"mpc: error usage: --share-dir takes NODE=PATH, not {item!r}", file=sys.stderr)
            return EXIT_ERROR
        share_roots[node] = Path(path)
    if not args.yes and sys.stdin.isatty():
        answer = input(f"replace database {settings.db_name} at {settings.db_host}:{settings.db_port} with {root}? "
                       "[y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return EXIT_ERROR
    try:
        report = restore_set(settings, root, trusted_keys=trusted, restored_nodes=nodes, share_roots=share_roots,
                             say=lambda m: print(m, file=sys.stderr, flush=True))
    except BackupSetError as exc:
        print(f"mpc: backup set {root} does not verify, nothing restored: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    except (PgToolError, RestoreError) as exc:
        print(f"mpc: restore failed: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    print(f"restored {report.backup_id} (schema {report.schema_revision}, {report.keys} keys); "
          f"closed {report.closed_sessions} interrupted session(s), dropped {report.dropped_commitments} unclaimed "
          f"nonce commitment(s) and {report.dropped_presignatures} presignature(s); new nonce epoch for: "
          f"{', '.join(report.bumped) or 'no node'}; "
          f".meta files written: {report.meta_written or 'none'}")
    print("next: `mpc migrate up`, then start the services; restart every participant named in --nodes")
    return EXIT_OK
