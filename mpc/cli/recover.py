"""`mpc recover --from-escrow SET --recovery-key FILE --nodes ...`: re-import keys from their escrowed shares
into a new committee, same public keys and addresses.

THE ONE PLACE A KEY EXISTS WHOLE (mpc/backup/recovery.py): this command decrypts t escrowed shares of each
key with the offline recovery key, interpolates the secret in memory and deals new shares to the named
nodes (a trusted-dealer reshare), each sealed to the node's X25519 identity key before it leaves the
process. Run it on a trusted, offline-but-for-the-API machine, and only when more than n - t holders are
lost. The platform then runs the normal two-phase activation (import inactive, ACKs, test signature,
activation, old epoch erased) under a `recover` intent that every node checks.

The nodes' identity keys come from the API (GET /v1/nodes): compare each fingerprint printed here with the
one the node logs at start (`participant worker polling`, field `fingerprint`) before you confirm; a
substituted key would receive that node's share.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpc.cli.client_api import ApiClient

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
HELP = ("re-import keys from a backup set's escrowed shares into new nodes, same public keys. THE ONE PLACE A KEY "
        "EXISTS WHOLE: this machine decrypts t escrowed shares, rebuilds each secret in memory (never printed or "
        "stored) and deals new shares sealed to each new node's identity key; the platform then runs the "
        "two-phase activation (a GG18/GG20 key's dealt shares are only staged: the new nodes reshare them into "
        "key shares with fresh Paillier parameters first).")


def add_recover_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser, run: Any) -> None:
    recover = sub.add_parser("recover", parents=[common], help=HELP, description=HELP)
    recover.add_argument("--from-escrow", required=True, metavar="SET", dest="set",
                         help="the backup set's directory, or its id under BACKUP_DIR")
    recover.add_argument("--recovery-key", required=True, metavar="FILE",
                         help="the offline X25519 recovery private key (64 hex, AGE-SECRET-KEY-1..., or a PEM)")
    recover.add_argument("--nodes", required=True, help="the new committee, comma-separated node ids (admitted, "
                                                        "online)")
    recover.add_argument("--threshold", type=int, default=None, help="the new t (default: the key's)")
    recover.add_argument("--key", action="append", default=[], metavar="KEY_ID",
                         help="recover only this key (repeatable; default: every escrowed key of the set)")
    recover.add_argument("--trusted-key", action="append", default=[], metavar="HEX",
                         help="API intent public key the manifest must be signed by (default: INTENT_TRUSTED_KEYS "
                              "or Vault; the API checks its own signature in any case)")
    recover.add_argument("--reason", default="recovered from escrow", help="recorded in the audit log")
    recover.add_argument("--yes", action="store_true", help="do not ask to confirm the nodes' fingerprints")
    recover.add_argument("--no-wait", action="store_true", help="print the started sessions and return at once")
    recover.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each session (600)")
    recover.set_defaults(handler=run(cmd_recover))


def _fail(code: str, message: str) -> int:
    print(f"mpc: error {code}: {message}", file=sys.stderr)
    return EXIT_ERROR


def _chosen_keys(checked: Any, wanted: list[str]) -> tuple[list[str], str | None]:
    """The escrowed keys to recover, or an error line (nothing is decrypted before every key passes)."""
    from mpc.backup.escrow_check import escrowed_keys

    listed = escrowed_keys(checked)
    keys = wanted or sorted(k for k, e in listed.items() if "escrowed" in e)
    for key_id in keys:
        entry, key = listed.get(key_id), checked.manifest.key(key_id)
        if entry is None or key is None or "escrowed" not in entry:
            why = (entry or {}).get("skipped", "not in the set")
            return [], f"recover_not_available: key {key_id} has no escrowed shares in this set ({why})"
    if not keys:
        return [], "recover_not_available: the set holds no escrowed key"
    return keys, None


def _new_holders(client: ApiClient, nodes: list[str]) -> tuple[dict[str, dict[str, Any]], str | None]:
    listed = {n["node_id"]: n for n in client.get("/v1/nodes")["nodes"]}
    for node in nodes:
        row = listed.get(node)
        if row is None:
            return {}, f"unknown_nodes: {node} is not registered"
        if row["admission"] != "admitted" or row["status"] != "online":
            return {}, f"nodes_offline: {node} is {row['admission']} and {row['status']}; new holders must be " \
                       "admitted and online"
    return {n: listed[n] for n in nodes}, None


def _confirm(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> bool:
    from mpc.identity import NodePublic

    for node, row in rows.items():
        public = NodePublic(node, row["signing_public_key"], row["encryption_public_key"])
        print(f"new holder {node}: identity fingerprint {public.fingerprint} (x25519 {public.x25519[:16]}...)",
              file=sys.stderr)
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print("mpc: compare the fingerprints with the nodes' logs, then run again with --yes", file=sys.stderr)
        return False
    answer = input("the fingerprints match the nodes' own (their start-up log)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cmd_recover(client: ApiClient, args: argparse.Namespace) -> int:
    from mpc.backup.escrow import EscrowError, load_recovery_key
    from mpc.backup.escrow_check import open_escrowed
    from mpc.backup.manifest import MANIFEST_FILE, SIGNATURE_FILE, BackupSetError, verify_set
    from mpc.backup.recovery import NewHolder, RecoveryError, deal_key, party_ids_for
    from mpc.cli.backup import _resolve

    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    if len(nodes) < 2 or len(set(nodes)) != len(nodes):
        return _fail("usage", "--nodes names at least two distinct nodes")
    _settings, root, trusted = _resolve(args)
    try:
        recovery_key = load_recovery_key(Path(args.recovery_key))
    except EscrowError as exc:
        return _fail("recovery_key", str(exc))
    try:
        checked = verify_set(root, trusted_keys=trusted)
        keys, problem = _chosen_keys(checked, args.key)
    except BackupSetError as exc:
        print(f"mpc: backup set {root} does not verify, nothing recovered: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if problem:
        return _fail(*problem.split(": ", 1))
    rows, problem = _new_holders(client, nodes)
    if problem:
        return _fail(*problem.split(": ", 1))
    if not _confirm(rows, args):
        return EXIT_ERROR
    manifest_b64 = base64.b64encode((root / MANIFEST_FILE).read_bytes()).decode()
    signature_text = (root / SIGNATURE_FILE).read_text()
    status = EXIT_OK
    for key_id in keys:
        entry = checked.manifest.key(key_id) or {}
        current = client.get(f"/v1/keys/{key_id}")
        pids = party_ids_for(entry, nodes)
        holders = [NewHolder(n, pids[n], rows[n]["signing_public_key"], rows[n]["encryption_public_key"])
                   for n in sorted(nodes, key=lambda n: pids[n])]
        threshold = args.threshold or int(entry["threshold"])
        try:
            escrowed = list(checked.manifest.escrow["keys"][key_id]["escrowed"])
            opened = open_escrowed(checked, key_id, escrowed, recovery_key)
            dealt = deal_key(opened, holders, threshold, int(current["epoch"]) + 1)
        except BackupSetError as exc:
            print(f"mpc: backup set {root} does not verify, {key_id} not recovered: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except RecoveryError as exc:
            return _fail(exc.code, str(exc))
        body = {"backup_id": checked.manifest.backup_id, "manifest": manifest_b64,
                "manifest_signature": signature_text, "threshold": threshold,
                "holders": [{"node_id": h.node_id, "party_id": h.party_id} for h in dealt.holders],
                "package": dealt.package, "shares": dealt.shares, "reason": args.reason}
        started = client.post(f"/v1/keys/{key_id}/recover", body)
        del body, dealt
        if args.no_wait:
            print(json.dumps(started) if args.json else
                  f"{key_id}: session {started['session_id']} {started['status']}")
            continue
        session = client.wait_session(started["session_id"], args.timeout)
        if session["status"] != "completed":
            error = session.get("error") or {}
            print(f"mpc: recovery of {key_id} failed: {error.get('code')}: {error.get('message')}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        key = client.get(f"/v1/keys/{key_id}")
        print(json.dumps(key) if args.json else
              f"{key_id}: recovered into {','.join(key['participants'])} (threshold {key['threshold']}, epoch "
              f"{key['epoch']}); public key {key['public_key']}, address {key['address']}")
    return status


__all__ = ["add_recover_command", "cmd_recover"]
