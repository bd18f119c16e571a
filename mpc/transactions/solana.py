"""Solana transactions with solders: the message the Ed25519 key signs, a summary, the signed transaction.

The request holds a serialised unsigned transaction (legacy or v0, base64); the key must be one of its
required signers. Ed25519 signs the message bytes themselves (no pre-hash), so the "digest" of such a
session is the whole message (at most a packet, 1232 bytes).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM
from solders.system_program import decode_transfer
from solders.transaction import VersionedTransaction

from mpc.transactions.types import KeyContext, Prepared, SigningInput, TransactionError

MAX_TRANSACTION_BYTES = 1232  # a Solana packet
BASE_FEE_LAMPORTS = 5000  # per signature (the fee before any priority fee)


def _parse(payload: Any) -> VersionedTransaction:
    if not isinstance(payload, str) or len(payload) > 2 * MAX_TRANSACTION_BYTES:
        raise TransactionError("invalid_transaction", "a Solana transaction is base64 of at most "
                                                      f"{MAX_TRANSACTION_BYTES} bytes")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise TransactionError("invalid_transaction", "the Solana transaction is not base64") from None
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise TransactionError("invalid_transaction", f"a Solana transaction has at most {MAX_TRANSACTION_BYTES} bytes")
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except Exception as exc:  # solders raises its own error types
        raise TransactionError("invalid_transaction", f"not a Solana transaction ({type(exc).__name__})") from None
    if bytes(tx) != raw:
        raise TransactionError("invalid_transaction", "trailing or non-canonical bytes after the transaction")
    return tx


def _signer_index(tx: VersionedTransaction, key: KeyContext) -> int:
    if key.curve != "ed25519" or len(key.public_key) != 32:
        raise TransactionError("chain_mismatch", "Solana transactions are signed by Ed25519 keys")
    me = Pubkey.from_bytes(key.signing_key)
    required = list(tx.message.account_keys[: tx.message.header.num_required_signatures])
    if me not in required:
        raise TransactionError("foreign_signer", f"{me} is not a required signer of this transaction")
    return required.index(me)


def _transfers(tx: VersionedTransaction) -> list[dict[str, Any]]:
    msg, out = tx.message, []
    keys = list(msg.account_keys)
    for ci in msg.instructions:
        program = keys[ci.program_id_index] if ci.program_id_index < len(keys) else None
        entry: dict[str, Any] = {"program": str(program) if program else "(lookup table)"}
        if program == SYSTEM_PROGRAM and all(a < len(keys) for a in ci.accounts):
            try:
                metas = [AccountMeta(keys[a], False, False) for a in ci.accounts]
                decoded = decode_transfer(Instruction(program, bytes(ci.data), metas))
                entry.update(kind="transfer", to=str(decoded["to_pubkey"]), amount=decoded["lamports"],
                             **{"from": str(decoded["from_pubkey"])})
            except Exception:  # another system instruction
                entry["kind"] = "system"
        out.append(entry)
    return out


def prepare(payload: Any, key: KeyContext) -> Prepared:
    tx = _parse(payload)
    index = _signer_index(tx, key)
    message = to_bytes_versioned(tx.message)
    instructions = _transfers(tx)
    transfers = [i for i in instructions if i.get("kind") == "transfer"]
    signatures = tx.message.header.num_required_signatures
    summary = {
        "chain": "solana", "from": str(tx.message.account_keys[0]), "signer_index": index,
        "to": [t["to"] for t in transfers], "amount": sum(t["amount"] for t in transfers), "unit": "lamport",
        "fee": BASE_FEE_LAMPORTS * signatures, "fee_note": "base fee (5000 lamports per signature), before any "
                                                            "priority fee",
        "recent_blockhash": str(tx.message.recent_blockhash), "instructions": instructions,
    }
    return Prepared("solana", (SigningInput(message),), summary)


def finalize(payload: Any, key: KeyContext, signatures: list[bytes]) -> dict[str, Any]:
    """`transaction` (signed, base64) and `signature` (base58); the signature is checked by solders."""
    tx = _parse(payload)
    index = _signer_index(tx, key)
    if len(signatures) != 1 or len(signatures[0]) != 64:
        raise TransactionError("invalid_signature", "one 64-byte Ed25519 signature expected")
    signature = Signature.from_bytes(signatures[0])
    if not signature.verify(Pubkey.from_bytes(key.signing_key), to_bytes_versioned(tx.message)):
        raise TransactionError("invalid_signature", "the signature does not verify under the key")
    sigs = list(tx.signatures)
    sigs[index] = signature
    signed = VersionedTransaction.populate(tx.message, sigs)
    return {"transaction": base64.b64encode(bytes(signed)).decode(), "signature": str(signature)}
