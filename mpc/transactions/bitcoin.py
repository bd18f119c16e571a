"""Bitcoin PSBTs: embit parses them and computes each input's sighash (BIP-341 for P2TR key-path spends,
BIP-143 for P2WPKH); Bitcoin Dev Kit (`bdkpython`, rust-miniscript's finaliser) finalises the signed PSBT,
which also checks every signature against its own sighash, and extracts the raw transaction.

Every input must spend an output of this key (or child): P2TR whose output key is the BIP-341 tweak of
the key, with the input's `PSBT_IN_TAP_MERKLE_ROOT` if it names one, for Taproot (FROST secp256k1-tr)
keys; P2WPKH of the compressed key for ECDSA keys. Anything else is someone else's output and is refused.

Only SIGHASH_DEFAULT / SIGHASH_ALL: a signing service should not sign transactions others may change.
One input per session for now: several inputs need several signatures in one session (one nonce each),
which arrives with batch signing; `prepare` already maps the input list to a message list.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import bdkpython as bdk
from coincurve import PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from embit import ec, script
from embit.psbt import PSBT
from embit.transaction import SIGHASH

from mpc.chains import p2tr_address, p2wpkh_address
from mpc.transactions.types import MAX_PAYLOAD_BYTES, KeyContext, Prepared, SigningInput, TransactionError
from tss.frost import taproot_output_key

TAP_KEY_SIG = b"\x13"  # BIP-371 PSBT_IN_TAP_KEY_SIG (embit keeps the key-path signature field as an unknown key)
MAX_INPUTS = 1  # until batch signing: one signature per session


def _parse(psbt_b64: Any) -> PSBT:
    if not isinstance(psbt_b64, str) or len(psbt_b64) > MAX_PAYLOAD_BYTES:
        raise TransactionError("invalid_psbt", f"a PSBT is a base64 string of at most {MAX_PAYLOAD_BYTES} characters")
    try:
        raw = base64.b64decode(psbt_b64, validate=True)
        return PSBT.parse(raw)
    except (binascii.Error, ValueError) as exc:
        raise TransactionError("invalid_psbt", f"not a valid PSBT: {exc}") from None
    except Exception as exc:  # embit raises its own errors and bare exceptions on truncated input
        raise TransactionError("invalid_psbt", f"not a valid PSBT ({type(exc).__name__})") from None


def _kind(key: KeyContext) -> str:
    if key.family == "frost" and key.curve == "secp256k1-tr":
        return "p2tr"
    if key.family == "ecdsa" and key.curve == "secp256k1":
        return "p2wpkh"
    raise TransactionError("chain_mismatch", "Bitcoin PSBTs are signed by Taproot (FROST secp256k1-tr) or "
                                             "threshold ECDSA keys")


def _address(spk: Any) -> str | None:
    try:
        return str(spk.address())
    except Exception:  # a non-standard script has no address
        return None


def _inputs(psbt: PSBT, key: KeyContext) -> list[tuple[int, SigningInput, dict[str, Any]]]:
    kind = _kind(key)
    if not psbt.inputs:
        raise TransactionError("invalid_psbt", "the PSBT has no inputs")
    if len(psbt.inputs) > MAX_INPUTS:
        raise TransactionError("too_many_inputs", f"{len(psbt.inputs)} inputs: this service signs PSBTs with "
                                                  f"{MAX_INPUTS} input until batch signing (one nonce per input)")
    x_only = key.public_key[1:]
    out = []
    for i, inp in enumerate(psbt.inputs):
        try:
            utxo = psbt.utxo(i)
        except Exception:
            raise TransactionError("invalid_psbt", f"input {i} names no previous output (witness_utxo)") from None
        spk = utxo.script_pubkey
        root = inp.taproot_merkle_root
        if kind == "p2tr":
            if root is not None and len(root) != 32:
                raise TransactionError("invalid_psbt", f"input {i}: the taproot merkle root is not 32 bytes")
            output_key, _parity = taproot_output_key(x_only, root)
            mine = spk.data == b"\x51\x20" + output_key
            if inp.taproot_internal_key is not None and inp.taproot_internal_key.xonly() != x_only:
                mine = False
            allowed: tuple[int | None, ...] = (None, SIGHASH.DEFAULT, SIGHASH.ALL)
        else:
            mine = spk.data == script.p2wpkh(ec.PublicKey.parse(key.public_key)).data
            allowed = (None, SIGHASH.ALL)
        if not mine:
            raise TransactionError("foreign_input", f"input {i} spends {_address(spk) or 'a script'}, not an "
                                                    f"output of this key ({kind})")
        if inp.sighash_type not in allowed:
            raise TransactionError("unsupported_sighash", f"input {i} asks for sighash {inp.sighash_type}; only "
                                                          "SIGHASH_DEFAULT/ALL are signed")
        sighash = inp.sighash_type if inp.sighash_type is not None else (
            SIGHASH.DEFAULT if kind == "p2tr" else SIGHASH.ALL)
        try:
            digest = bytes(psbt.sighash(i, sighash=sighash))
        except Exception as exc:
            raise TransactionError("invalid_psbt", f"input {i}: no sighash ({type(exc).__name__})") from None
        txid = bytes(reversed(inp.txid)).hex() if inp.txid else None  # display order
        out.append((i, SigningInput(digest, root if kind == "p2tr" else None),
                    {"txid": txid, "vout": inp.vout, "amount": utxo.value, "address": _address(spk)}))
    return out


def _own_address(key: KeyContext) -> str:
    if _kind(key) == "p2tr":
        return p2tr_address(taproot_output_key(key.public_key[1:], None)[0])
    return p2wpkh_address(PublicKey(key.public_key).format())


def prepare(psbt_b64: Any, key: KeyContext) -> Prepared:
    psbt = _parse(psbt_b64)
    signed = _inputs(psbt, key)
    own = _own_address(key)
    outputs = []
    for out in psbt.tx.vout:
        address = _address(out.script_pubkey)
        outputs.append({"address": address, "amount": out.value, "change": address == own})
    spent = sum(s[2]["amount"] for s in signed)
    paid = sum(o["amount"] for o in outputs)
    if paid > spent:
        raise TransactionError("invalid_psbt", "the outputs spend more than the inputs")
    summary = {
        "chain": "bitcoin", "from": own,
        "to": [o["address"] for o in outputs if not o["change"]],
        "amount": sum(o["amount"] for o in outputs if not o["change"]), "fee": spent - paid, "unit": "sat",
        "inputs": [s[2] for s in signed], "outputs": outputs,
    }
    return Prepared("bitcoin", tuple(s[1] for s in signed), summary)


def finalize(psbt_b64: Any, key: KeyContext, signatures: list[bytes]) -> dict[str, Any]:
    """The finalised PSBT (base64) and raw transaction (hex); bdk refuses any signature that does not verify."""
    psbt = _parse(psbt_b64)
    signed = _inputs(psbt, key)
    if len(signatures) != len(signed):
        raise TransactionError("invalid_signature", f"{len(signed)} signatures expected")
    kind = _kind(key)
    for (i, _target, _info), sig in zip(signed, signatures, strict=True):
        inp = psbt.inputs[i]
        if kind == "p2tr":
            if len(sig) != 64:
                raise TransactionError("invalid_signature", "a BIP-340 signature is 64 bytes")
            suffix = b"" if inp.sighash_type in (None, SIGHASH.DEFAULT) else bytes([inp.sighash_type])
            inp.unknown = {**inp.unknown, TAP_KEY_SIG: sig + suffix}  # a new dict: embit shares the default one
            if inp.taproot_internal_key is None:
                inp.taproot_internal_key = ec.PublicKey.from_xonly(key.public_key[1:])
        else:
            if len(sig) != 65:
                raise TransactionError("invalid_signature", "an ECDSA signature is r || s || v (65 bytes)")
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"))
            inp.partial_sigs[ec.PublicKey.parse(key.public_key)] = der + bytes([SIGHASH.ALL])
    try:
        result = bdk.Psbt(psbt.to_string()).finalize()
    except Exception as exc:
        raise TransactionError("invalid_signature", f"the PSBT does not finalise ({type(exc).__name__})") from None
    if not result.could_finalize:
        raise TransactionError("invalid_signature", f"the PSBT does not finalise: {result.errors}")
    tx = result.psbt.extract_tx()
    return {"psbt": result.psbt.serialize(), "raw_transaction": bytes(tx.serialize()).hex(),
            "txid": str(tx.compute_txid())}
