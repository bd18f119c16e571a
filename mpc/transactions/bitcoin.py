"""Bitcoin PSBTs: embit parses them and computes each input's sighash (BIP-341 for P2TR key-path spends,
BIP-143 for P2WPKH); Bitcoin Dev Kit (`bdkpython`, rust-miniscript's finaliser) finalises the signed PSBT,
which also checks every signature against its own sighash, and extracts the raw transaction.

Every input must spend an output of this key (or child): P2TR whose output key is the BIP-341 tweak of
the key, with the input's `PSBT_IN_TAP_MERKLE_ROOT` if it names one, for Taproot (FROST secp256k1-tr)
keys; P2WPKH of the compressed key for ECDSA keys. Anything else is someone else's output and is refused.

An input may belong to a BIP-32 child of the key: the request's `derivation_path`, or the input's own
`PSBT_IN_BIP32_DERIVATION` / `PSBT_IN_TAP_BIP32_DERIVATION` naming this key's fingerprint and a
non-hardened path; the child's output is what the input must spend. A node is told each input's path by
the intent (`KeyContext.input_paths`) and checks it the same way.

Only SIGHASH_DEFAULT / SIGHASH_ALL: a signing service should not sign transactions others may change.
Every input is signed in one session: a FROST batch (one nonce per input) for Taproot keys, one GG18/GG20
signing run per input for ECDSA keys (seconds each, hence the lower cap).
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
from mpc.transactions.types import (
    MAX_PAYLOAD_BYTES,
    KeyContext,
    Prepared,
    SigningInput,
    TransactionError,
    bip32_path,
)
from tss.frost import taproot_output_key

TAP_KEY_SIG = b"\x13"  # BIP-371 PSBT_IN_TAP_KEY_SIG (embit keeps the key-path signature field as an unknown key)
MAX_INPUTS = {"p2tr": 256, "p2wpkh": 16}
"""Inputs per PSBT: a FROST batch holds 256 digests; an ECDSA key signs each input in a GG18/GG20 run of its own."""


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


def _claimed_paths(inp: Any, kind: str, key: KeyContext) -> list[str | None]:
    """The paths the input's BIP-32 fields give for this key (its fingerprint), each checked against the
    child it derives to; a claim whose key is not that child is someone else's (a fingerprint collision)."""
    fingerprint = key.fingerprint
    if fingerprint is None:
        return []
    if kind == "p2tr":
        entries = [(pub.xonly(), der) for pub, (_leaves, der) in inp.taproot_bip32_derivations.items()]
    else:
        entries = [(pub.sec(), der) for pub, der in inp.bip32_derivations.items()]
    paths: list[str | None] = []
    for pub, der in entries:
        if der.fingerprint != fingerprint:
            continue
        path = bip32_path(der.derivation)
        child = key.key_at(path)
        if (child[1:] if kind == "p2tr" else child) == pub and path not in paths:
            paths.append(path)
    return paths


def _owned(spk: Any, inp: Any, kind: str, public_key: bytes) -> bool:
    """Whether `spk` is the output of `public_key` (Taproot: with the input's merkle root, BIP-341)."""
    if kind == "p2tr":
        x_only = public_key[1:]
        output_key, _parity = taproot_output_key(x_only, inp.taproot_merkle_root)
        if inp.taproot_internal_key is not None and inp.taproot_internal_key.xonly() != x_only:
            return False
        return bool(spk.data == b"\x51\x20" + output_key)
    return bool(spk.data == script.p2wpkh(ec.PublicKey.parse(public_key)).data)


def _signer_of(i: int, inp: Any, spk: Any, kind: str, key: KeyContext) -> tuple[str | None, bytes]:
    """The path (None: the key itself) and public key of the child that owns input `i`'s output."""
    if key.input_paths is not None:  # named by the intent: checked, never looked for
        candidates = [key.path_of(i)]
    else:
        candidates = [*_claimed_paths(inp, kind, key), key.derivation_path]
    for path in dict.fromkeys(candidates):
        public_key = key.key_at(path)
        if _owned(spk, inp, kind, public_key):
            return path, public_key
    named = candidates[0]
    whose = f"the child {named}" if key.input_paths is not None and named else "this key or a child it names"
    raise TransactionError("foreign_input", f"input {i} spends {_address(spk) or 'a script'}, not an output of "
                                            f"{whose} ({kind})")


def _inputs(psbt: PSBT, key: KeyContext) -> list[tuple[int, SigningInput, dict[str, Any], bytes]]:
    """Per input: its index, what it needs signed, its summary and the public key that signs it."""
    kind = _kind(key)
    if not psbt.inputs:
        raise TransactionError("invalid_psbt", "the PSBT has no inputs")
    if len(psbt.inputs) > MAX_INPUTS[kind]:
        raise TransactionError("too_many_inputs", f"{len(psbt.inputs)} inputs: a {kind} PSBT is signed with at "
                                                  f"most {MAX_INPUTS[kind]} inputs in one session")
    if key.input_paths is not None and len(key.input_paths) != len(psbt.inputs):
        raise TransactionError("intent_mismatch", f"{len(key.input_paths)} derivation paths named for "
                                                  f"{len(psbt.inputs)} inputs")
    outpoints = [(bytes(inp.txid or b""), inp.vout) for inp in psbt.inputs]
    if len(set(outpoints)) != len(outpoints):
        raise TransactionError("invalid_psbt", "two inputs spend the same output")
    out = []
    for i, inp in enumerate(psbt.inputs):
        try:
            utxo = psbt.utxo(i)
        except Exception:
            raise TransactionError("invalid_psbt", f"input {i} names no previous output (witness_utxo)") from None
        spk = utxo.script_pubkey
        root = inp.taproot_merkle_root
        if kind == "p2tr" and root is not None and len(root) != 32:
            raise TransactionError("invalid_psbt", f"input {i}: the taproot merkle root is not 32 bytes")
        path, public_key = _signer_of(i, inp, spk, kind, key)
        allowed: tuple[int | None, ...] = (None, SIGHASH.DEFAULT, SIGHASH.ALL) if kind == "p2tr" else (None,
                                                                                                      SIGHASH.ALL)
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
        out.append((i, SigningInput(digest, root if kind == "p2tr" else None, path),
                    {"txid": txid, "vout": inp.vout, "amount": utxo.value, "address": _address(spk),
                     "derivation_path": path}, public_key))
    return out


def _address_of(kind: str, public_key: bytes) -> str:
    if kind == "p2tr":
        return p2tr_address(taproot_output_key(public_key[1:], None)[0])
    return p2wpkh_address(PublicKey(public_key).format())


def prepare(psbt_b64: Any, key: KeyContext) -> Prepared:
    psbt = _parse(psbt_b64)
    signed = _inputs(psbt, key)
    kind = _kind(key)
    own = _address_of(kind, key.key_at(key.derivation_path)) if key.input_paths is None else None
    # Change: back to the key (or a child) that signs, at a BIP-86 output or one of the spent outputs.
    ours = {a for a in (own, *(_address_of(kind, s[3]) for s in signed), *(s[2]["address"] for s in signed)) if a}
    outputs = []
    for out in psbt.tx.vout:
        address = _address(out.script_pubkey)
        outputs.append({"address": address, "amount": out.value, "change": address in ours})
    spent = sum(s[2]["amount"] for s in signed)
    paid = sum(o["amount"] for o in outputs)
    if paid > spent:
        raise TransactionError("invalid_psbt", "the outputs spend more than the inputs")
    senders = list(dict.fromkeys(s[2]["address"] for s in signed))
    summary = {
        "chain": "bitcoin", "from": senders[0] if len(senders) == 1 else senders,
        "to": [o["address"] for o in outputs if not o["change"]],
        "amount": sum(o["amount"] for o in outputs if not o["change"]), "fee": spent - paid, "unit": "sat",
        "inputs": [s[2] for s in signed], "outputs": outputs,
    }
    return Prepared("bitcoin", tuple(s[1] for s in signed), summary)


def finalize(psbt_b64: Any, key: KeyContext, signatures: list[bytes]) -> dict[str, Any]:
    """The finalised PSBT (base64) and raw transaction (hex); bdk refuses any signature that does not verify.

    `signatures` are in input order, each by the key (or child) the input spends from."""
    psbt = _parse(psbt_b64)
    signed = _inputs(psbt, key)
    if len(signatures) != len(signed):
        raise TransactionError("invalid_signature", f"{len(signed)} signatures expected")
    kind = _kind(key)
    for (i, _target, _info, public_key), sig in zip(signed, signatures, strict=True):
        inp = psbt.inputs[i]
        if kind == "p2tr":
            if len(sig) != 64:
                raise TransactionError("invalid_signature", "a BIP-340 signature is 64 bytes")
            suffix = b"" if inp.sighash_type in (None, SIGHASH.DEFAULT) else bytes([inp.sighash_type])
            inp.unknown = {**inp.unknown, TAP_KEY_SIG: sig + suffix}  # a new dict: embit shares the default one
            if inp.taproot_internal_key is None:
                inp.taproot_internal_key = ec.PublicKey.from_xonly(public_key[1:])
        else:
            if len(sig) != 65:
                raise TransactionError("invalid_signature", "an ECDSA signature is r || s || v (65 bytes)")
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"))
            inp.partial_sigs[ec.PublicKey.parse(public_key)] = der + bytes([SIGHASH.ALL])
    try:
        result = bdk.Psbt(psbt.to_string()).finalize()
    except Exception as exc:
        raise TransactionError("invalid_signature", f"the PSBT does not finalise ({type(exc).__name__})") from None
    if not result.could_finalize:
        raise TransactionError("invalid_signature", f"the PSBT does not finalise: {result.errors}")
    tx = result.psbt.extract_tx()
    return {"psbt": result.psbt.serialize(), "raw_transaction": bytes(tx.serialize()).hex(),
            "txid": str(tx.compute_txid())}
