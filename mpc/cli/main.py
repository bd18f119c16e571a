"""Argument parsing and dispatch for `mpc`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mpc.settings import SettingsError

Handler = Callable[[argparse.Namespace], int]


def _add_server_commands(sub: argparse._SubParsersAction) -> None:
    from mpc.cli import servers

    dev = sub.add_parser("dev", help="start the whole stack on this machine (Ctrl-C stops it)")
    dev.add_argument("--data-dir", default=".data/dev", help="state of every service (default: .data/dev)")
    dev.add_argument("--http-port", type=int, default=8080)
    dev.add_argument("--grpc-port", type=int, default=9090, help="the gRPC API (default 9090)")
    dev.add_argument("--temporal-port", type=int, default=7233)
    dev.add_argument("--ui-port", type=int, default=8233)
    dev.add_argument("--vault-port", type=int, default=8200)
    dev.add_argument("--db-port", type=int, default=5432)
    dev.add_argument("--redis-port", type=int, default=6379)
    dev.add_argument("--participants", type=int, default=3)
    dev.add_argument("--log-level", default="INFO")
    dev.add_argument("--prometheus", action="store_true",
                     help="also start a local Prometheus scraping every process (when `prometheus` is installed)")
    dev.add_argument("--prometheus-port", type=int, default=9091, help="its web UI and API (default 9091)")
    dev.add_argument("--tls", action="store_true",
                     help="serve HTTPS and gRPC with TLS, with a development CA made in <data-dir>/tls")
    dev.set_defaults(handler=servers.cmd_dev)

    api = sub.add_parser("api", help="run the HTTP API (settings from env / config file)")
    api.set_defaults(handler=servers.cmd_api)

    worker = sub.add_parser("worker", help="run a Temporal worker")
    worker.add_argument("role", choices=["coordinator", "participant"])
    worker.set_defaults(handler=servers.cmd_worker)

    serve = sub.add_parser("serve", help="run the role NODE_TYPE names (coordinator: API + coordinator worker)")
    serve.set_defaults(handler=servers.cmd_serve)

    migrate = sub.add_parser("migrate", help="database migrations")
    migrate.add_argument("direction", choices=["up", "down", "current"])
    migrate.add_argument("--revision", default=None, help="target revision (default: head for up, base for down)")
    migrate.set_defaults(handler=servers.cmd_migrate)

    tokens = sub.add_parser("tokens", help="API tokens (talks to the database directly; an admin command)")
    tokens_sub = tokens.add_subparsers(dest="tokens_cmd", required=True)
    create = tokens_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", default="operator", choices=["admin", "operator", "node", "viewer"])
    create.add_argument("--ttl", default=None, help="lifetime, e.g. 24h (default TOKEN_TTL)")
    create.add_argument("--node-id", default=None, help="role node: the one node id the token may register")
    create.set_defaults(handler=servers.cmd_tokens_create)
    revoke = tokens_sub.add_parser("revoke", help="revoke a token at once, by its token id")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=servers.cmd_tokens_revoke)

    from mpc.cli.certs import add_certs_commands

    add_certs_commands(sub)

    approvers = sub.add_parser("approvers", help="approver keys (kept by each approver, never by the service)")
    approvers_sub = approvers.add_subparsers(dest="approvers_cmd", required=True)
    keygen = approvers_sub.add_parser("keygen", help="write a new Ed25519 approver key; print its public key")
    keygen.add_argument("--out", required=True, help="private key file to create (mode 0600)")
    keygen.set_defaults(handler=_cmd_approvers_keygen)


def _cmd_approvers_keygen(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mpc.cli.approver_keys import ApproverKeyError, write_new_key

    try:
        print(write_new_key(Path(args.out)))
    except ApproverKeyError as exc:
        print(f"mpc: error approver_key: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpc", description="Threshold-signing (MPC) platform")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_server_commands(sub)
    try:
        from mpc.cli import client
    except ImportError:  # pragma: no cover - client commands are optional during bootstrap
        client = None  # type: ignore[assignment]
    if client is not None:
        client.add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except SettingsError as exc:
        print(f"mpc: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
