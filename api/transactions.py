"""Transaction requests: the API parses the transaction for the key (or child), names it in the intent,
starts an ordinary sign session over the message it needs, and builds the signed transaction afterwards.

A transaction that needs one signature is a single-digest session; a PSBT with several inputs is one batch
session whose intent names every input's sighash in input order, with its Taproot merkle root and BIP-32
child (the request's `derivation_path`, or the input's own derivation field naming this key's fingerprint).
The nodes do not trust this parse: each prepares the transaction from the intent again with its own key
and chain code (activities/purpose.py). The session row keeps what the result needs (the chain, the payload, the signing
key) and the summary a reviewer reads; `session_result` turns a completed session into the signed
transaction with the chain's library, which checks the signature once more.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.auth import Principal
from api.derivation import checked_path, family_of
from api.errors import ApiError
from api.orchestration import ClientFactory, SignSpec, Started, start_signing
from api.schemas import DERIVATION_PATH_FIELD
from mpc.db.models import Key, SigningSession
from mpc.hd import key_chain_code
from mpc.intent_keys import IntentSigner
from mpc.settings import Settings
from mpc.transactions import CHAINS, KeyContext, TransactionError, finalize, prepare
from mpc.transactions.types import MAX_PAYLOAD_BYTES

log = logging.getLogger("mpc.api.transactions")


class TransactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"chain": "ethereum", "derivation_path": "m/0/17", "transaction": {
            "type": 2, "chainId": 1, "nonce": 0, "to": "0x000000000000000000000000000000000000dEaD", "value": 1,
            "gas": 21000, "maxFeePerGas": 30000000000, "maxPriorityFeePerGas": 1000000000, "data": "0x",
            "accessList": []}},
        {"chain": "bitcoin", "psbt": "cHNidP8B..."},
        {"chain": "solana", "transaction": "AQAAAA..."},
    ]})

    chain: str = Field(description="ethereum, bitcoin or solana: must be the key's chain",
                       json_schema_extra={"enum": list(CHAINS)})
    transaction: dict[str, Any] | str | None = Field(
        default=None, description="ethereum: the web3 / eth-account transaction dict (type, chainId, nonce, to, "
                                  "value, gas, maxFeePerGas, maxPriorityFeePerGas, data, accessList; or gasPrice "
                                  "for legacy EIP-155); solana: the serialised unsigned transaction, base64")
    psbt: str | None = Field(default=None, max_length=MAX_PAYLOAD_BYTES, description="bitcoin: the PSBT, base64")
    derivation_path: str | None = DERIVATION_PATH_FIELD

    @model_validator(mode="after")
    def _one_payload(self) -> TransactionCreate:
        if self.chain == "bitcoin":
            if self.psbt is None or self.transaction is not None:
                raise ValueError("a bitcoin request has `psbt` (base64) and no `transaction`")
        elif self.transaction is None or self.psbt is not None:
            raise ValueError(f"a {self.chain} request has `transaction` and no `psbt`")
        return self

    @property
    def payload(self) -> Any:
        return self.psbt if self.chain == "bitcoin" else self.transaction


def _root_key(key: Key) -> bytes:
    package = (key.public_data or {}).get("package") or {}
    if not package.get("group_public_key"):
        raise ApiError(409, "key_not_active", f"key {key.key_id} is {key.status}")
    return bytes.fromhex(package["group_public_key"])


def _context(key: Key, path: str | None) -> KeyContext:
    chain_code = key_chain_code(key.public_data)
    return KeyContext(key.chain_type, key.curve, family_of(key), _root_key(key),
                      chain_code=bytes.fromhex(chain_code) if chain_code else None, derivation_path=path)


async def start_transaction(db: Any, client_factory: ClientFactory, settings: Settings, principal: Principal,
                            key_id: str, body: TransactionCreate, idempotency_key: str | None, *,
                            signer: IntentSigner) -> Started:
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    if body.chain != key.chain_type:
        raise ApiError(422, "chain_mismatch", f"a {body.chain} transaction cannot be signed by a {key.chain_type} "
                                              "key (a key's chain is its purpose)", field="chain")
    path = checked_path(key, body.derivation_path)
    context = _context(key, path)
    try:
        prepared = prepare(body.chain, body.payload, context)
    except TransactionError as exc:
        raise ApiError(422, exc.code, str(exc), field="psbt" if body.chain == "bitcoin" else "transaction") from None
    inputs = prepared.inputs
    paths = [target.derivation_path for target in inputs]
    record = {"chain": body.chain, "payload": body.payload, "summary": prepared.summary,
              "key": {"curve": key.curve, "family": context.family, "public_key": context.public_key.hex(),
                      "chain_code": context.chain_code.hex() if context.chain_code else None, "input_paths": paths}}
    transaction = {"chain": body.chain, "payload": body.payload}
    roots = [target.taproot_merkle_root.hex() if target.taproot_merkle_root else None for target in inputs]
    if len(inputs) == 1:  # one signature: a single-digest session, as before batches
        spec = SignSpec(digest=inputs[0].message.hex(), signers=None, taproot_merkle_root=roots[0],
                        derivation_path=paths[0], request=body, transaction=transaction, record=record)
    else:  # a PSBT's inputs: one batch session (one nonce, or one ECDSA run, per input), one intent naming all
        spec = SignSpec(digest="", signers=None, taproot_merkle_root=None, derivation_path=None, request=body,
                        transaction=transaction, record=record, digests=[t.message.hex() for t in inputs],
                        taproot_merkle_roots=roots, derivation_paths=paths)
    return await start_signing(db, client_factory, settings, principal, key_id, spec, idempotency_key, signer=signer)


def session_transaction(row: SigningSession) -> dict[str, Any] | None:
    return (row.transaction or {}).get("summary") if row.transaction else None


def _recorded_key(record: dict[str, Any]) -> KeyContext:
    """The signing key as the session recorded it. Sessions recorded before multi-input PSBTs name the
    signing key (the child, if any) in `public_key` and no `input_paths`: that key signs every input."""
    key = record["key"]
    paths = key.get("input_paths")
    return KeyContext(record["chain"], key["curve"], key["family"], bytes.fromhex(key["public_key"]),
                      chain_code=bytes.fromhex(key["chain_code"]) if key.get("chain_code") else None,
                      input_paths=tuple(paths) if paths is not None else None)


def session_result(row: SigningSession) -> dict[str, Any] | None:
    """The signed transaction of a completed transaction session (None otherwise)."""
    record = row.transaction
    signatures = row.signatures if row.message_hashes else [row.signature] if row.signature else None
    if not record or row.status != "completed" or not signatures:
        return None
    try:
        return finalize(record["chain"], record["payload"], _recorded_key(record),
                        [bytes.fromhex(signature) for signature in signatures])
    except (TransactionError, KeyError, ValueError, TypeError) as exc:
        log.error("cannot finalise the transaction of session %s: %s", row.session_id, exc)
        return {"error": f"the signed transaction could not be assembled: {exc}"}
