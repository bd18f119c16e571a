"""Ethereum transactions (EIP-1559 and legacy EIP-155) with eth-account: signing hash, summary, raw bytes.

eth-account parses and encodes; nothing here writes RLP itself. Its unsigned-transaction builder and the
encoder that attaches (v, r, s) are the ones `Account.sign_transaction` uses (module
`eth_account._utils.legacy_transactions`: the typed variants live there too). The recovered sender of the
signed bytes must be the key's (or child's) address before anything is returned.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_account._utils.legacy_transactions import encode_transaction, serializable_unsigned_transaction_from_dict
from eth_utils import keccak

from mpc.chains import ethereum_address
from mpc.transactions.types import KeyContext, Prepared, SigningInput, TransactionError

FIELDS = {"type", "chainId", "nonce", "to", "value", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas",
          "data", "accessList"}
INT_FIELDS = ("chainId", "nonce", "value", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas")
MAX_UINT256 = 2**256 - 1
MAX_CHAIN_ID = 2**64 - 1


def _type_of(tx: dict[str, Any]) -> int:
    kind = tx.get("type", 0 if "gasPrice" in tx else 2)
    if isinstance(kind, str):
        try:
            kind = int(kind, 16) if kind.startswith("0x") else int(kind)
        except ValueError:
            raise TransactionError("invalid_transaction", "type must be 0 (legacy) or 2 (EIP-1559)") from None
    if kind not in (0, 2) or isinstance(kind, bool):
        raise TransactionError("invalid_transaction", "type must be 0 (legacy, EIP-155) or 2 (EIP-1559)")
    return int(kind)


def _checked(tx: Any) -> tuple[dict[str, Any], int]:
    if not isinstance(tx, dict):
        raise TransactionError("invalid_transaction", "an Ethereum transaction is a JSON object")
    unknown = sorted(set(tx) - FIELDS)
    if unknown:
        raise TransactionError("invalid_transaction", f"unknown transaction fields: {', '.join(unknown)}")
    chain_id = tx.get("chainId")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id <= MAX_CHAIN_ID:
        raise TransactionError("invalid_chain_id", "chainId is required (EIP-155 replay protection) and must be "
                                                   f"in 1..{MAX_CHAIN_ID}")
    for name in INT_FIELDS:
        value = tx.get(name)
        bad = isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT256
        if value is not None and bad:
            raise TransactionError("invalid_transaction", f"{name} must be a non-negative integer")
    kind = _type_of(tx)
    if kind == 2 and "gasPrice" in tx:
        raise TransactionError("invalid_transaction", "an EIP-1559 transaction has maxFeePerGas, not gasPrice")
    if kind == 0 and ("maxFeePerGas" in tx or "maxPriorityFeePerGas" in tx or "accessList" in tx):
        raise TransactionError("invalid_transaction", "a legacy transaction has gasPrice only")
    required = ("nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas") if kind == 2 else ("nonce", "gas", "gasPrice")
    missing = [name for name in required if name not in tx]
    if missing:
        raise TransactionError("invalid_transaction", f"missing fields: {', '.join(missing)}")
    body = {k: v for k, v in tx.items() if k != "type"}
    if kind == 2:
        body = {"type": 2, "accessList": [], **body}
    body.setdefault("value", 0)
    body.setdefault("data", "0x")
    return body, kind


def _unsigned(tx: Any) -> tuple[Any, dict[str, Any], int]:
    body, kind = _checked(tx)
    try:
        return serializable_unsigned_transaction_from_dict(dict(body)), body, kind
    except (TypeError, ValueError, KeyError) as exc:
        raise TransactionError("invalid_transaction", f"not a valid Ethereum transaction: {exc}") from None


def _key(key: KeyContext) -> str:
    if key.family != "ecdsa" or key.curve != "secp256k1":
        raise TransactionError("chain_mismatch", "Ethereum transactions are signed by threshold ECDSA keys")
    return ethereum_address(key.signing_key)


def prepare(tx: Any, key: KeyContext) -> Prepared:
    sender = _key(key)
    unsigned, body, kind = _unsigned(tx)
    digest = bytes(unsigned.hash())
    fee_cap = body["maxFeePerGas"] if kind == 2 else body["gasPrice"]
    data_bytes = bytes(unsigned.as_dict()["data"]) if kind == 2 else bytes(unsigned.data)
    summary = {
        "chain": "ethereum", "chain_id": body["chainId"], "type": "eip-1559" if kind == 2 else "legacy (eip-155)",
        "from": sender, "to": body.get("to"), "amount": str(body["value"]),
        "amount_ether": _ether(body["value"]), "nonce": body["nonce"], "gas": body["gas"],
        "fee": str(body["gas"] * fee_cap), "fee_note": "maximum fee in wei (gas x fee cap)",
        "data_bytes": len(data_bytes), "selector": "0x" + data_bytes[:4].hex() if len(data_bytes) >= 4 else None,
    }
    return Prepared("ethereum", (SigningInput(digest, derivation_path=key.path_of(0)),), summary)


def _ether(wei: int) -> str:
    return format(Decimal(wei) / Decimal(10**18), "f")


def finalize(tx: Any, key: KeyContext, signatures: list[bytes]) -> dict[str, Any]:
    """`raw_transaction` (0x hex) and `transaction_hash` from the 65-byte r ‖ s ‖ recid signature."""
    sender = _key(key)
    unsigned, body, kind = _unsigned(tx)
    if len(signatures) != 1 or len(signatures[0]) != 65:
        raise TransactionError("invalid_signature", "one 65-byte r || s || v signature expected")
    sig = signatures[0]
    r, s, recid = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    if recid not in (0, 1):
        raise TransactionError("invalid_signature", "recovery id must be 0 or 1")
    v = recid if kind == 2 else body["chainId"] * 2 + 35 + recid  # EIP-155
    raw = bytes(encode_transaction(unsigned, vrs=(v, r, s)))
    if Account.recover_transaction(raw) != sender:
        raise TransactionError("invalid_signature", "the signed transaction does not recover to the key's address")
    return {"raw_transaction": "0x" + raw.hex(), "transaction_hash": "0x" + keccak(raw).hex()}
