"""API client commands: `mpc keys create|list|show|disable|enable|archive|reshare|refresh|epochs|xpub|address`,
`mpc sign`, `mpc tx sign` (mpc/cli/wallet.py), `mpc approve`, `mpc sessions show`, `mpc nodes list|approve|remove`.

They talk to the HTTP API (``--api-url`` / ``MPC_API_URL``, default http://127.0.0.1:8080) with a bearer
token (``--token``, ``--token-file``, ``MPC_API_TOKEN``, else ``.data/dev/admin-token`` when it exists);
over HTTPS with ``--ca-file`` and, for AUTH_TYPE=cert, a client certificate (``--client-cert``, ``--client-key``).
Keygen and signing start the session, then poll it with a progress line on stderr.
Exit codes: 0 done, 1 the session failed, 2 a usage or HTTP error (one line with the API's error code).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpc.cli.wallet import add_key_commands, add_tx_commands

if TYPE_CHECKING:  # httpx is imported only when a client command runs
    from mpc.cli.client_api import ApiClient

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
KEY_FIELDS = ("key_id", "status", "protocol", "curve", "threshold", "total_nodes", "participants", "chain_type",
              "public_key", "verifying_key", "address", "allow_raw_digest", "epoch", "description", "tags",
              "created_at")
SESSION_FIELDS = ("session_id", "operation", "key_id", "protocol", "status", "current_round", "total_rounds",
                  "participants", "message_hash", "signature", "duration_ms", "created_at", "completed_at")


def add_client_commands(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("API connection")
    group.add_argument("--api-url", default=None, help="API base URL (env MPC_API_URL; default http://127.0.0.1:8080)")
    group.add_argument("--token", default=None, help="bearer token (env MPC_API_TOKEN)")
    group.add_argument("--token-file", default=None,
                       help="file holding the token (default .data/dev/admin-token if it exists)")
    group.add_argument("--ca-file", default=None,
                       help="CA certificate (PEM) to trust for an HTTPS API (env MPC_CA_FILE; `mpc dev --tls`: "
                            "<data-dir>/tls/ca.pem)")
    group.add_argument("--client-cert", default=None,
                       help="client certificate (PEM) for AUTH_TYPE=cert (env MPC_CLIENT_CERT)")
    group.add_argument("--client-key", default=None, help="its private key (PEM) (env MPC_CLIENT_KEY)")
    group.add_argument("--json", action="store_true", help="print the API's JSON instead of text")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--no-wait", action="store_true", help="print the started session and return at once")
    waiting.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the session (600)")
    waiting.add_argument("--idempotency-key", default=None, help="Idempotency-Key header (safe retries)")

    keys = sub.add_parser("keys", help="threshold keys (via the API)")
    keys_sub = keys.add_subparsers(dest="keys_cmd", required=True)
    create = keys_sub.add_parser("create", parents=[common, waiting], help="generate a key (distributed keygen)")
    create.add_argument("--chain-type", required=True, help="bitcoin, ethereum, solana, schnorr or ed25519")
    create.add_argument("--threshold", type=int, required=True, help="t: signers needed (2-of-3: 2)")
    members = create.add_mutually_exclusive_group(required=True)
    members.add_argument("--total-nodes", type=int, help="n: the API picks n online nodes")
    members.add_argument("--nodes", type=_csv, help="participant node ids, comma-separated")
    create.add_argument("--protocol", default=None, choices=["frost", "gg18", "gg20"],
                        help="(default: the service's DEFAULT_PROTOCOL where the chain allows it, else frost)")
    create.add_argument("--curve", default=None, help="ed25519, secp256k1 or secp256k1-tr (default: from chain)")
    create.add_argument("--description", default=None)
    create.add_argument("--tag", action="append", default=[], type=_tag, metavar="K=V", help="repeatable")
    create.add_argument("--policy", default=None, type=_json_file, metavar="FILE",
                        help='JSON: {"approvers": [{"name": ..., "public_key": ...}], "quorum": {"sign": 2, ...}}')
    create.add_argument("--allow-raw-digest", default=None, action=argparse.BooleanOptionalAction,
                        help="may the key sign bare digests (default: yes for schnorr/ed25519 keys, no for "
                             "ethereum/bitcoin/solana keys, which sign transactions: mpc tx sign)")
    create.set_defaults(handler=_run(cmd_keys_create))

    listing = keys_sub.add_parser("list", parents=[common], help="list keys, newest first")
    listing.add_argument("--status", default=None, help="only keys in this status (active, pending, ...)")
    listing.add_argument("--chain-type", default=None)
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=_run(cmd_keys_list))

    show = keys_sub.add_parser("show", parents=[common], help="one key")
    show.add_argument("key_id")
    show.set_defaults(handler=_run(cmd_keys_show))

    for action, text in (("disable", "disable a key on every holder (nodes then refuse to sign with it)"),
                         ("enable", "enable a disabled key again (every holder must be online)"),
                         ("archive", "archive a key: every holder erases its share (metadata and address stay)")):
        lifecycle = keys_sub.add_parser(action, parents=[common, waiting], help=text)
        lifecycle.add_argument("key_id")
        lifecycle.add_argument("--reason", default=None, help="recorded in the audit log")
        lifecycle.set_defaults(handler=_run(cmd_keys_state), action=action)

    reshare = keys_sub.add_parser("reshare", parents=[common, waiting],
                                  help="move a key to a new committee and/or threshold (same public key)")
    reshare.add_argument("key_id")
    reshare.add_argument("--threshold", type=int, required=True, help="the new t")
    reshare.add_argument("--nodes", type=_csv, required=True, help="the new committee, comma-separated node ids")
    reshare.add_argument("--reason", default=None, help="recorded in the audit log and the epoch history")
    reshare.set_defaults(handler=_run(cmd_keys_change), action="reshare")
    refresh = keys_sub.add_parser("refresh", parents=[common, waiting],
                                  help="new shares for the same committee and threshold (every holder online)")
    refresh.add_argument("key_id")
    refresh.add_argument("--reason", default=None, help="recorded in the audit log and the epoch history")
    refresh.set_defaults(handler=_run(cmd_keys_change), action="refresh")
    epochs = keys_sub.add_parser("epochs", parents=[common], help="a key's share epochs (holders, threshold)")
    epochs.add_argument("key_id")
    epochs.set_defaults(handler=_run(cmd_keys_epochs))
    add_key_commands(keys_sub, common)
    add_tx_commands(sub, common, waiting)

    sign = sub.add_parser("sign", parents=[common, waiting], help="sign a 32-byte digest with a key")
    sign.add_argument("key_id")
    what = sign.add_mutually_exclusive_group(required=True)
    what.add_argument("--digest", help="32 bytes as 64 hex characters")
    what.add_argument("--digests-file", help="a batch: one 64-hex digest per line (up to 256; blank lines and "
                                              "# comments skipped; - for stdin), signed in one session")
    sign.add_argument("--signers", type=_csv, default=None, help="signer node ids, comma-separated")
    sign.add_argument("--taproot-merkle-root", default=None, help="Bitcoin: script-tree root, 64 hex")
    sign.add_argument("--path", default=None, help="sign with the key's BIP-32 child at this path (m/0/17)")
    sign.set_defaults(handler=_run(cmd_sign))

    sessions = sub.add_parser("sessions", help="keygen and signing sessions")
    sessions_sub = sessions.add_subparsers(dest="sessions_cmd", required=True)
    session_show = sessions_sub.add_parser("show", parents=[common], help="one session")
    session_show.add_argument("session_id")
    session_show.set_defaults(handler=_run(cmd_sessions_show))

    approve = sub.add_parser("approve", parents=[common], help="approve (or reject) a session's intent")
    approve.add_argument("session_id")
    approve.add_argument("--key", required=True, help="the approver's private key file (mpc approvers keygen)")
    approve.add_argument("--reject", action="store_true", help="reject: the session ends `rejected`")
    approve.set_defaults(handler=_run(cmd_approve))

    nodes = sub.add_parser("nodes", help="participant nodes")
    nodes_sub = nodes.add_subparsers(dest="nodes_cmd", required=True)
    nodes_list = nodes_sub.add_parser("list", parents=[common], help="nodes with online/offline status")
    nodes_list.set_defaults(handler=_run(cmd_nodes_list))
    nodes_approve = nodes_sub.add_parser("approve", parents=[common], help="admit a pending node (admin)")
    nodes_approve.add_argument("node_id")
    nodes_approve.set_defaults(handler=_run(cmd_nodes_approve))
    nodes_remove = nodes_sub.add_parser("remove", parents=[common], help="remove a node (admin)")
    nodes_remove.add_argument("node_id")
    nodes_remove.set_defaults(handler=_run(cmd_nodes_remove))
    nodes_epoch = nodes_sub.add_parser("reset-nonce-epoch", parents=[common],
                                       help="void every nonce and presignature of a node restored from a snapshot "
                                            "(applied at its next start; admin)")
    nodes_epoch.add_argument("node_id")
    nodes_epoch.set_defaults(handler=_run(cmd_nodes_reset_epoch))

    from mpc.cli.backup import add_backup_commands

    add_backup_commands(sub, common, _run)

    from mpc.cli.recover import add_recover_command

    add_recover_command(sub, common, _run)


# ---- argument types -------------------------------------------------------------------------

def _csv(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _json_file(value: str) -> Any:
    try:
        with open(value) as handle:
            return json.load(handle)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {value}: {exc.strerror}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value} is not JSON: {exc}") from None


def _tag(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected K=V, got {value!r}")
    return key, val


def _run(command: Callable[[ApiClient, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Open the client from the connection options; a ClientError becomes one line and exit code 2."""

    def handler(args: argparse.Namespace) -> int:
        from mpc.cli.client_api import ApiClient, ClientError, ClientSettings

        try:
            settings = ClientSettings.resolve(args.api_url, args.token, args.token_file, ca_file=args.ca_file,
                                              client_cert=args.client_cert, client_key=args.client_key)
            with ApiClient(settings) as client:
                return command(client, args)
        except ClientError as exc:
            print(exc.line(), file=sys.stderr)
            return EXIT_ERROR

    return handler


# ---- commands ----------------------------------------------------------------------------------

def cmd_keys_create(client: ApiClient, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"chain_type": args.chain_type, "threshold": args.threshold,
                            "tags": dict(args.tag)}
    optional = {"protocol": args.protocol, "curve": args.curve, "total_nodes": args.total_nodes,
                "nodes": args.nodes, "description": args.description, "policy": args.policy,
                "allow_raw_digest": args.allow_raw_digest}
    body.update({k: v for k, v in optional.items() if v is not None})
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    started = client.post("/v1/keys", body, headers=headers)
    if args.no_wait:
        return _emit(started, args, lambda s: _started_text(s, s.get("key") or {}))
    session = client.wait_session(started["session_id"], args.timeout)
    if session["status"] == "failed":
        return _failed(session, args)
    key = client.get(f"/v1/keys/{session['key_id']}")
    if args.json:
        print(json.dumps({**session, "key": key}, indent=2))
    else:
        print(_fields(key, KEY_FIELDS) + f"\nsession_id: {session['session_id']}\n"
              f"duration_ms: {session['duration_ms']}")
    return EXIT_OK


def cmd_keys_list(client: ApiClient, args: argparse.Namespace) -> int:
    reply = client.get("/v1/keys", status=args.status, chain_type=args.chain_type, limit=args.limit)
    rows = [[k["key_id"], k["status"], k["protocol"], k["curve"], f"{k['threshold']}-of-{k['total_nodes']}",
             k["chain_type"], ",".join(k["participants"]), k.get("address") or "", _when(k["created_at"])]
            for k in reply["keys"]]
    header = ["KEY_ID", "STATUS", "PROTOCOL", "CURVE", "T-OF-N", "CHAIN", "NODES", "ADDRESS", "CREATED"]
    return _emit(reply, args, lambda r: _table(header, rows) + f"\n{r['total']} key(s)")


def cmd_keys_show(client: ApiClient, args: argparse.Namespace) -> int:
    return _emit(client.get(f"/v1/keys/{args.key_id}"), args, lambda k: _fields(k, KEY_FIELDS))


def read_digests(path: str) -> list[str]:
    """Digests of a batch file, in file order; the API checks them (hex, length, distinct, count)."""
    from mpc.cli.client_api import ClientError

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError("digests_file", f"cannot read {path}: {exc}") from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def cmd_sign(client: ApiClient, args: argparse.Namespace) -> int:
    batch = args.digests_file is not None
    body: dict[str, Any] = {"digests": read_digests(args.digests_file)} if batch else {"digest": args.digest}
    if args.signers:
        body["signers"] = args.signers
    if args.taproot_merkle_root:
        body["taproot_merkle_root"] = args.taproot_merkle_root
    if args.path:
        body["derivation_path"] = args.path
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    started = client.post(f"/v1/keys/{args.key_id}/sign", body, headers=headers)
    if args.no_wait:
        return _emit(started, args, lambda s: _started_text(s, {}))
    session = client.wait_session(started["session_id"], args.timeout)
    if session["status"] == "failed":
        return _failed(session, args)
    if batch:  # one "digest signature" line per digest, in file order, then the session's fields
        return _emit(session, args, lambda s: "\n".join(
            [f"{d} {sig}" for d, sig in zip(s["message_hashes"], s["signatures"], strict=True)]
            + [_fields(s, ("session_id", "key_id", "participants", "total_rounds", "duration_ms"))]))
    return _emit(session, args, lambda s: _fields(s, ("signature", "session_id", "key_id", "participants",
                                                      "message_hash", "total_rounds", "duration_ms")))


def cmd_keys_state(client: ApiClient, args: argparse.Namespace) -> int:
    body = {"reason": args.reason} if args.reason else {}
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    if args.action == "archive":
        started = client.request("DELETE", f"/v1/keys/{args.key_id}", json_body=body, headers=headers)
    else:
        started = client.post(f"/v1/keys/{args.key_id}/{args.action}", body, headers=headers)
    if args.no_wait:
        return _emit(started, args, lambda s: _started_text(s, {}))
    session = client.wait_session(started["session_id"], args.timeout)
    if session["status"] == "failed":
        return _failed(session, args)
    return _emit(session, args, lambda s: f"key {args.key_id} {args.action}d on {', '.join(s['participants'])}")


def cmd_keys_change(client: ApiClient, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"reason": args.reason} if args.reason else {}
    if args.action == "reshare":
        body.update(threshold=args.threshold, nodes=args.nodes)
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    started = client.post(f"/v1/keys/{args.key_id}/{args.action}", body, headers=headers)
    if args.no_wait:
        return _emit(started, args, lambda s: _started_text(s, {}))
    session = client.wait_session(started["session_id"], args.timeout)
    if session["status"] == "failed":
        return _failed(session, args)
    key = client.get(f"/v1/keys/{args.key_id}")
    return _emit(session, args, lambda s: f"key {args.key_id} {args.action}ed: epoch {key['epoch']}, "
                                          f"{key['threshold']}-of-{key['total_nodes']} on "
                                          f"{', '.join(key['participants'])}; public key {key['public_key']}")


def cmd_keys_epochs(client: ApiClient, args: argparse.Namespace) -> int:
    reply = client.get(f"/v1/keys/{args.key_id}/epochs")
    rows = [[str(e["epoch"]), f"{e['threshold']}-of-{len(e['holders'])}", ",".join(e["holders"]), e["reason"],
             _when(e["created"]), "yes" if e["active"] else ""] for e in reply["epochs"]]
    return _emit(reply, args, lambda _r: _table(["EPOCH", "T-OF-N", "HOLDERS", "REASON", "CREATED", "ACTIVE"], rows))


def cmd_sessions_show(client: ApiClient, args: argparse.Namespace) -> int:
    session = client.get(f"/v1/sessions/{args.session_id}")
    return _emit(session, args, lambda s: _fields(s, SESSION_FIELDS) + _approvals_text(s) + _error_text(s))


def _approvals_text(session: dict[str, Any]) -> str:
    lines = [f"\n{a['decision']}d by {a['approver']} ({a['public_key'][:16]}) at {a['at']}"
             for a in session.get("approvals") or []]
    return "".join(lines)


def cmd_approve(client: ApiClient, args: argparse.Namespace) -> int:
    from pathlib import Path

    from mpc.cli.approver_keys import ApproverKeyError, decide, load_key, public_hex
    from mpc.cli.client_api import ClientError

    try:
        key = load_key(Path(args.key))
    except ApproverKeyError as exc:
        raise ClientError("approver_key", str(exc)) from None
    intent = client.get(f"/v1/sessions/{args.session_id}/intent")
    body = {"public_key": public_hex(key), "signature": decide(key, bytes.fromhex(intent["intent"]),
                                                               reject=args.reject), "reject": args.reject}
    reply = client.post(f"/v1/sessions/{args.session_id}/approvals", body)
    return _emit(reply, args, lambda r: f"{r['decision']}d session {r['session_id']} as {r['approver']}")


PREPARAMS_POOL_LABEL = "paillier_preparams"
"""The pool `mpc nodes list` shows: sealed pre-parameter sets ready for ECDSA keygen (workers/metrics.py POOLS)."""


def _pool_level(node: dict[str, Any], pool: str) -> str:
    level = (node.get("pool_levels") or {}).get(pool)
    return "-" if level is None else str(level)


def cmd_nodes_list(client: ApiClient, args: argparse.Namespace) -> int:
    reply = client.get("/v1/nodes")
    rows = [[n["node_id"], n["status"], n.get("admission", ""), f"{n['seconds_since_heartbeat']:.1f}s",
             _pool_level(n, PREPARAMS_POOL_LABEL), n.get("version") or "", n.get("endpoint") or ""]
            for n in reply["nodes"]]
    header = ["NODE_ID", "STATUS", "ADMISSION", "LAST HEARTBEAT", "PREPARAMS", "VERSION", "ENDPOINT"]
    return _emit(reply, args, lambda r: _table(header, rows) + f"\n{r['online']} of {r['total']} online")


def cmd_nodes_approve(client: ApiClient, args: argparse.Namespace) -> int:
    node = client.post(f"/v1/nodes/{args.node_id}/approve", {})
    return _emit(node, args, lambda n: f"{n['node_id']} admitted ({n['status']})")


def cmd_nodes_remove(client: ApiClient, args: argparse.Namespace) -> int:
    client.request("DELETE", f"/v1/nodes/{args.node_id}")
    return _emit({"node_id": args.node_id, "removed": True}, args, lambda _d: f"{args.node_id} removed")


def cmd_nodes_reset_epoch(client: ApiClient, args: argparse.Namespace) -> int:
    reply = client.post(f"/v1/nodes/{args.node_id}/nonce-epoch", {})
    return _emit(reply, args, lambda r: f"{r['node_id']}: nonce-epoch counter {r['counter']}; restart the node")


# ---- output -----------------------------------------------------------------------------------

def _emit(data: Any, args: argparse.Namespace, text: Callable[[Any], str]) -> int:
    print(json.dumps(data, indent=2) if args.json else text(data))
    return EXIT_OK


def _failed(session: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(session, indent=2))
    error = session.get("error") or {}
    at = f" (node {error['node']})" if error.get("node") else ""
    print(f"mpc: {session['operation']} session {session['session_id']} failed: "
          f"{error.get('code', 'unknown')}: {error.get('message', '')}{at}", file=sys.stderr)
    return EXIT_FAILED


def _started_text(session: dict[str, Any], key: dict[str, Any]) -> str:
    extra = f"\nkey_id: {key['key_id']}" if key.get("key_id") else ""
    return (f"session_id: {session['session_id']}{extra}\nstatus: {session['status']}\n"
            f"follow with: mpc sessions show {session['session_id']}")


def _error_text(session: dict[str, Any]) -> str:
    error = session.get("error")
    if not error:
        return ""
    return "\n" + _fields(error, ("code", "message", "node", "nodes"), prefix="error.")


def _fields(data: dict[str, Any], names: tuple[str, ...], prefix: str = "") -> str:
    lines = []
    for name in names:
        value = data.get(name)
        if value is None or value in ("", [], {}):
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"{prefix}{name}: {value}")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [header, *rows])


def _when(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp
