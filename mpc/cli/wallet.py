"""Wallet client commands: `mpc keys xpub|address KEY [--path P]` and
`mpc tx sign KEY --eth-json FILE | --psbt FILE | --solana-tx FILE [--path P]`.

`tx sign` prints the decoded summary the API made of the transaction (chain, to, amount, fee, inputs,
outputs) as soon as the session starts, then the signed result when it completes.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpc.cli.client_api import ApiClient

PSBT_MAGIC = b"psbt\xff"


def add_key_commands(keys_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from mpc.cli.client import _run

    xpub = keys_sub.add_parser("xpub", parents=[common], help="a secp256k1 key (or child) as a BIP-32 xpub")
    xpub.add_argument("key_id")
    xpub.add_argument("--path", default=None, help="non-hardened BIP-32 path, e.g. m/0/17 (default: the key)")
    xpub.set_defaults(handler=_run(cmd_keys_xpub))
    address = keys_sub.add_parser("address", parents=[common], help="the address of a key's BIP-32 child")
    address.add_argument("key_id")
    address.add_argument("--path", default="m", help="non-hardened BIP-32 path, e.g. m/0/17 (default: m, the key)")
    address.set_defaults(handler=_run(cmd_keys_address))


def add_tx_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
                    waiting: argparse.ArgumentParser) -> None:
    from mpc.cli.client import _run

    tx = sub.add_parser("tx", help="chain transactions signed by a key (via the API)")
    tx_sub = tx.add_subparsers(dest="tx_cmd", required=True)
    sign = tx_sub.add_parser("sign", parents=[common, waiting],
                             help="sign an Ethereum transaction, a Bitcoin PSBT or a Solana transaction")
    sign.add_argument("key_id")
    source = sign.add_mutually_exclusive_group(required=True)
    source.add_argument("--eth-json", metavar="FILE", help="Ethereum: the transaction dict as JSON (web3 fields)")
    source.add_argument("--psbt", metavar="FILE", help="Bitcoin: the PSBT, base64 or binary")
    source.add_argument("--solana-tx", metavar="FILE", help="Solana: the unsigned transaction, base64 or binary")
    sign.add_argument("--path", default=None, help="sign with the key's BIP-32 child at this path (m/0/17)")
    sign.set_defaults(handler=_run(cmd_tx_sign))


def cmd_keys_xpub(client: ApiClient, args: argparse.Namespace) -> int:
    from mpc.cli.client import _emit

    if args.path:
        child = client.request("GET", f"/v1/keys/{args.key_id}/addresses", params={"path": args.path})
        return _emit({"key_id": args.key_id, "path": child["path"], "xpub": child["xpub"]}, args,
                     lambda d: d["xpub"])
    return _emit(client.get(f"/v1/keys/{args.key_id}/xpub"), args, lambda d: d["xpub"])


def cmd_keys_address(client: ApiClient, args: argparse.Namespace) -> int:
    from mpc.cli.client import _emit, _fields

    child = client.request("GET", f"/v1/keys/{args.key_id}/addresses", params={"path": args.path})
    return _emit(child, args, lambda c: _fields(c, ("address", "path", "public_key", "verifying_key", "xpub")))


def _payload(args: argparse.Namespace) -> dict[str, Any]:
    from mpc.cli.client_api import ClientError

    name = args.eth_json or args.psbt or args.solana_tx
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        raise ClientError("unreadable_file", f"cannot read {name}: {exc.strerror}") from None
    if args.eth_json:
        try:
            return {"chain": "ethereum", "transaction": json.loads(raw)}
        except ValueError as exc:
            raise ClientError("invalid_file", f"{name} is not JSON: {exc}") from None
    if args.psbt:
        text = base64.b64encode(raw).decode() if raw.startswith(PSBT_MAGIC) else raw.decode(errors="replace").strip()
        return {"chain": "bitcoin", "psbt": text}
    text = raw.decode(errors="replace").strip()
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        text = base64.b64encode(raw).decode()  # a binary serialised transaction
    return {"chain": "solana", "transaction": text}


def summary_text(summary: dict[str, Any]) -> str:
    """The decoded transaction as a reviewer reads it."""
    lines = [f"chain: {summary.get('chain')}"]
    for name in ("chain_id", "type", "from", "to", "amount", "amount_ether", "unit", "fee", "fee_note", "nonce",
                 "gas", "selector", "recent_blockhash"):
        value = summary.get(name)
        if value is not None and value != []:
            lines.append(f"{name}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    for entry in summary.get("inputs") or []:
        child = f" (child {entry['derivation_path']})" if entry.get("derivation_path") else ""
        lines.append(f"input: {entry.get('txid')}:{entry.get('vout')} {entry.get('amount')} sat from "
                     f"{entry.get('address')}{child}")
    for entry in summary.get("outputs") or []:
        change = " (change)" if entry.get("change") else ""
        lines.append(f"output: {entry.get('amount')} sat to {entry.get('address')}{change}")
    for entry in summary.get("instructions") or []:
        if entry.get("kind") == "transfer":
            lines.append(f"instruction: transfer {entry['amount']} lamports to {entry['to']}")
        else:
            lines.append(f"instruction: {entry.get('kind', 'call')} {entry.get('program')}")
    return "\n".join(lines)


def cmd_tx_sign(client: ApiClient, args: argparse.Namespace) -> int:
    from mpc.cli.client import EXIT_OK, _failed, _fields, _started_text

    body = _payload(args)
    if args.path:
        body["derivation_path"] = args.path
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    started = client.post(f"/v1/keys/{args.key_id}/transactions", body, headers=headers)
    if not args.json:  # what is being signed, before anything else
        print(summary_text(started.get("transaction") or {}), flush=True)
    if args.no_wait:
        print(json.dumps(started, indent=2) if args.json else _started_text(started, {}))
        return EXIT_OK
    session = client.wait_session(started["session_id"], args.timeout)
    if session["status"] == "failed":
        return _failed(session, args)
    if args.json:
        print(json.dumps(session, indent=2))
    else:
        result = session.get("result") or {}
        print(_fields(result, ("raw_transaction", "transaction_hash", "txid", "psbt", "transaction", "signature")))
        print(f"session_id: {session['session_id']}", file=sys.stderr)
    return EXIT_OK
