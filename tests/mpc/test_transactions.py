"""mpc.transactions with single-party keys standing in for the threshold signature: what it asks to sign is
what the chains' own libraries sign (eth-account's sign_transaction, bdk's finaliser, solders' verify),
and malformed or foreign transactions are refused with stable codes."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import replace

import bdkpython as bdk
import pytest
from bip_utils import Bip32Secp256k1
from coincurve import PrivateKey, PublicKeyXOnly
from embit import ec, script
from embit.psbt import PSBT, DerivationPath
from embit.transaction import SIGHASH, TransactionInput, TransactionOutput
from embit.transaction import Transaction as BtcTransaction
from eth_account import Account
from eth_utils import to_checksum_address
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from mpc.transactions import KeyContext, TransactionError, finalize, prepare

EIP1559 = {"type": 2, "chainId": 1337, "nonce": 3, "to": to_checksum_address("0x" + "ab" * 20), "value": 10**15,
           "gas": 21000, "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9, "data": "0x", "accessList": []}
LEGACY = {"chainId": 1, "nonce": 0, "to": to_checksum_address("0x" + "cd" * 20), "value": 5, "gas": 21000,
          "gasPrice": 10**9}


def _eth_key() -> tuple[PrivateKey, KeyContext]:
    secret = PrivateKey()
    return secret, KeyContext("ethereum", "secp256k1", "ecdsa", secret.public_key.format())


@pytest.mark.parametrize("tx", [EIP1559, LEGACY], ids=["eip1559", "legacy"])
def test_ethereum_matches_eth_account(tx: dict) -> None:
    secret, key = _eth_key()
    prepared = prepare("ethereum", tx, key)
    (target,) = prepared.inputs
    signature = secret.sign_recoverable(target.message, hasher=None)  # r || s || recid over the signing hash
    result = finalize("ethereum", tx, key, [signature])
    reference = Account.from_key(secret.secret).sign_transaction(tx)
    assert result["raw_transaction"] == "0x" + bytes(reference.raw_transaction).hex()
    assert result["transaction_hash"] == "0x" + bytes(reference.hash).hex()
    assert prepared.summary["from"] == Account.from_key(secret.secret).address
    assert prepared.summary["to"] == tx["to"] and prepared.summary["amount"] == str(tx["value"])
    # a signature by another key does not recover to this key's address
    with pytest.raises(TransactionError) as err:
        finalize("ethereum", tx, key, [PrivateKey().sign_recoverable(target.message, hasher=None)])
    assert err.value.code == "invalid_signature"


@pytest.mark.parametrize(("change", "code"), [
    ({"chainId": None}, "invalid_chain_id"), ({"chainId": 0}, "invalid_chain_id"),
    ({"chainId": -1}, "invalid_chain_id"), ({"chainId": "1"}, "invalid_chain_id"),
    ({"value": 1.5}, "invalid_transaction"), ({"value": True}, "invalid_transaction"),
    ({"value": 2**256}, "invalid_transaction"), ({"type": 3}, "invalid_transaction"),
    ({"from": "0x" + "00" * 20}, "invalid_transaction"), ({"gasPrice": 1}, "invalid_transaction"),
    ({"to": "0x1234"}, "invalid_transaction"), ({"data": "0xzz"}, "invalid_transaction"),
])
def test_ethereum_malformed_is_refused(change: dict, code: str) -> None:
    _secret, key = _eth_key()
    tx = {k: v for k, v in {**EIP1559, **change}.items() if v is not None}
    with pytest.raises(TransactionError) as err:
        prepare("ethereum", tx, key)
    assert err.value.code == code


def test_chain_is_the_keys_purpose() -> None:
    _secret, key = _eth_key()
    for chain in ("bitcoin", "solana"):
        with pytest.raises(TransactionError) as err:
            prepare(chain, "AAAA", key)
        assert err.value.code == "chain_mismatch"
    with pytest.raises(TransactionError) as err:
        prepare("dogecoin", {}, key)
    assert err.value.code == "unknown_chain"


# ---- bitcoin -------------------------------------------------------------------------------------


def _psbt(spk, n_inputs: int = 1, amount: int = 100_000, sighash: int | None = None, root: bytes | None = None):
    vin = [TransactionInput(os.urandom(32), i) for i in range(n_inputs)]
    payee = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    tx = BtcTransaction(vin=vin, vout=[TransactionOutput(amount * n_inputs - 2_000, payee)])
    psbt = PSBT(tx)
    for inp in psbt.inputs:
        inp.witness_utxo = TransactionOutput(amount, spk)
        inp.sighash_type = sighash
        inp.taproot_merkle_root = root
    return psbt.to_string()


def test_bitcoin_p2wpkh_signed_psbt_finalises_with_bdk() -> None:
    secret = ec.PrivateKey(os.urandom(32))
    key = KeyContext("bitcoin", "secp256k1", "ecdsa", secret.get_public_key().sec())
    psbt_b64 = _psbt(script.p2wpkh(secret.get_public_key()))
    prepared = prepare("bitcoin", psbt_b64, key)
    assert prepared.summary["fee"] == 2_000 and prepared.summary["inputs"][0]["amount"] == 100_000
    (target,) = prepared.inputs
    signature = PrivateKey(secret.secret).sign_recoverable(target.message, hasher=None)
    result = finalize("bitcoin", psbt_b64, key, [signature])
    final = bdk.Psbt(result["psbt"])
    assert bytes(final.extract_tx().serialize()).hex() == result["raw_transaction"]
    with pytest.raises(TransactionError) as err:  # a signature over another message: bdk's check refuses it
        finalize("bitcoin", psbt_b64, key, [PrivateKey(secret.secret).sign_recoverable(os.urandom(32), hasher=None)])
    assert err.value.code == "invalid_signature"


@pytest.mark.parametrize("with_root", [False, True], ids=["bip86", "script-tree"])
def test_bitcoin_taproot_key_path_psbt_finalises_with_bdk(with_root: bool) -> None:
    secret = ec.PrivateKey(os.urandom(32))
    pub = secret.get_public_key()
    root = hashlib.sha256(b"leaf").digest() if with_root else None
    output = secret.taproot_tweak(root or b"")
    spk = script.Script(b"\x51\x20" + output.get_public_key().xonly())
    key = KeyContext("bitcoin", "secp256k1-tr", "frost", pub.sec())
    psbt_b64 = _psbt(spk, root=root)
    prepared = prepare("bitcoin", psbt_b64, key)
    (target,) = prepared.inputs
    assert target.taproot_merkle_root == root
    signature = output.schnorr_sign(target.message).serialize()
    result = finalize("bitcoin", psbt_b64, key, [signature])
    assert len(bytes.fromhex(result["raw_transaction"])) > 100 and result["txid"]
    with pytest.raises(TransactionError) as err:
        finalize("bitcoin", psbt_b64, key, [output.schnorr_sign(os.urandom(32)).serialize()])
    assert err.value.code == "invalid_signature"


def test_bitcoin_refusals() -> None:
    secret = ec.PrivateKey(os.urandom(32))
    key = KeyContext("bitcoin", "secp256k1", "ecdsa", secret.get_public_key().sec())
    mine = script.p2wpkh(secret.get_public_key())
    someone_else = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    cases = [
        (_psbt(someone_else), "foreign_input"),
        (_psbt(mine, n_inputs=17), "too_many_inputs"),  # an ECDSA key: one GG18/GG20 run per input, 16 at most
        (_psbt(mine, sighash=SIGHASH.SINGLE), "unsupported_sighash"),
        (_psbt(mine, sighash=SIGHASH.ALL | SIGHASH.ANYONECANPAY), "unsupported_sighash"),
        ("cHNidP8BAAo=", "invalid_psbt"), ("not base64!", "invalid_psbt"), (base64.b64encode(b"psbt").decode(),
                                                                             "invalid_psbt"),
        ({"psbt": 1}, "invalid_psbt"),
    ]
    for psbt_b64, code in cases:
        with pytest.raises(TransactionError) as err:
            prepare("bitcoin", psbt_b64, key)
        assert err.value.code == code, (code, str(err.value))
    # A Taproot key does not sign a P2WPKH input even of its own point.
    tr = KeyContext("bitcoin", "secp256k1-tr", "frost", secret.get_public_key().sec())
    with pytest.raises(TransactionError) as err:
        prepare("bitcoin", _psbt(mine), tr)
    assert err.value.code == "foreign_input"


def _hd_root() -> tuple[Bip32Secp256k1, KeyContext, KeyContext]:
    """A BIP-32 root (bip_utils, private derivation) and this key as a P2WPKH and as a Taproot signer."""
    root = Bip32Secp256k1.FromSeed(os.urandom(32))
    point, chain_code = root.PublicKey().RawCompressed().ToBytes(), root.ChainCode().ToBytes()
    return (root, KeyContext("bitcoin", "secp256k1", "ecdsa", point, chain_code=chain_code),
            KeyContext("bitcoin", "secp256k1-tr", "frost", point, chain_code=chain_code))


def _secret_at(root: Bip32Secp256k1, path: str | None) -> ec.PrivateKey:
    node = root.DerivePath(path) if path else root
    return ec.PrivateKey(node.PrivateKey().Raw().ToBytes())


def _fingerprint(root: Bip32Secp256k1) -> bytes:
    return root.PublicKey().FingerPrint().ToBytes()


def _multi(spks: list[script.Script], roots: list[bytes | None] | None = None) -> PSBT:
    vin = [TransactionInput(os.urandom(32), i) for i in range(len(spks))]
    payee = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    psbt = PSBT(BtcTransaction(vin=vin, vout=[TransactionOutput(50_000 * len(spks) - 3_000, payee)]))
    for i, (inp, spk) in enumerate(zip(psbt.inputs, spks, strict=True)):
        inp.witness_utxo = TransactionOutput(50_000, spk)
        inp.taproot_merkle_root = roots[i] if roots else None
    return psbt


def test_bitcoin_p2wpkh_two_inputs_of_the_key_and_a_child_finalise_with_bdk() -> None:
    """Each input's BIP-143 sighash in input order; the child's input found from its BIP-32 field (this
    key's fingerprint); bdk finalises both inputs, and refuses a signature swapped between them."""
    root, key, _ = _hd_root()
    child = _secret_at(root, "m/0/7")
    own = _secret_at(root, None)
    psbt = _multi([script.p2wpkh(own.get_public_key()), script.p2wpkh(child.get_public_key())])
    psbt.inputs[1].bip32_derivations[child.get_public_key()] = DerivationPath(_fingerprint(root), [0, 7])
    psbt_b64 = psbt.to_string()
    prepared = prepare("bitcoin", psbt_b64, key)
    assert [t.derivation_path for t in prepared.inputs] == [None, "m/0/7"]
    assert [t.message for t in prepared.inputs] == [
        bytes(PSBT.from_string(psbt_b64).sighash(i, sighash=SIGHASH.ALL)) for i in range(2)]
    assert [i["derivation_path"] for i in prepared.summary["inputs"]] == [None, "m/0/7"]
    assert prepared.summary["fee"] == 3_000 and len(prepared.summary["from"]) == 2
    signatures = [PrivateKey(secret.secret).sign_recoverable(t.message, hasher=None)
                  for secret, t in zip((own, child), prepared.inputs, strict=True)]
    signer = replace(key, input_paths=(None, "m/0/7"))  # as the session records it
    result = finalize("bitcoin", psbt_b64, signer, signatures)
    final = bdk.Psbt(result["psbt"])
    assert bytes(final.extract_tx().serialize()).hex() == result["raw_transaction"]
    assert all(inp.final_scriptwitness for inp in PSBT.from_string(result["psbt"]).inputs)
    with pytest.raises(TransactionError) as err:
        finalize("bitcoin", psbt_b64, signer, list(reversed(signatures)))
    assert err.value.code == "invalid_signature"


@pytest.mark.parametrize("with_root", [False, True], ids=["bip86", "script-tree"])
def test_bitcoin_taproot_two_inputs_finalise_with_bdk(with_root: bool) -> None:
    """A BIP-86 input of the key and one of a child (named by its PSBT_IN_TAP_BIP32_DERIVATION), each with
    its own merkle root: one BIP-341 sighash per input, signed under each input's own output key."""
    root, _, key = _hd_root()
    secrets_ = [_secret_at(root, None), _secret_at(root, "m/1/2")]
    roots = [None, hashlib.sha256(b"leaf").digest()] if with_root else [None, None]
    outputs = [s.taproot_tweak(r or b"") for s, r in zip(secrets_, roots, strict=True)]
    psbt = _multi([script.Script(b"\x51\x20" + o.get_public_key().xonly()) for o in outputs], roots)
    psbt.inputs[1].taproot_bip32_derivations[secrets_[1].get_public_key()] = (
        [], DerivationPath(_fingerprint(root), [1, 2]))
    psbt_b64 = psbt.to_string()
    prepared = prepare("bitcoin", psbt_b64, key)
    assert [(t.taproot_merkle_root, t.derivation_path) for t in prepared.inputs] == [(roots[0], None),
                                                                                     (roots[1], "m/1/2")]
    signatures = [o.schnorr_sign(t.message).serialize() for o, t in zip(outputs, prepared.inputs, strict=True)]
    result = finalize("bitcoin", psbt_b64, replace(key, input_paths=(None, "m/1/2")), signatures)
    final = PSBT.from_string(result["psbt"])
    for inp, output, target in zip(final.inputs, outputs, prepared.inputs, strict=True):
        (sig,) = inp.final_scriptwitness.items
        assert PublicKeyXOnly(output.get_public_key().xonly()).verify(bytes(sig), target.message)


def test_bitcoin_multi_input_refusals() -> None:
    root, key, tr = _hd_root()
    own, child = _secret_at(root, None), _secret_at(root, "m/0/1")
    stranger = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    mine = script.p2wpkh(own.get_public_key())

    def refused(psbt: PSBT | str, code: str, context: KeyContext = key) -> None:
        with pytest.raises(TransactionError) as err:
            prepare("bitcoin", psbt if isinstance(psbt, str) else psbt.to_string(), context)
        assert err.value.code == code, str(err.value)

    refused(_multi([mine, stranger]), "foreign_input")  # someone else's input among several
    refused(_multi([stranger, mine]), "foreign_input")
    # A child's input with no BIP-32 field naming this key is not recognised as ours.
    refused(_multi([mine, script.p2wpkh(child.get_public_key())]), "foreign_input")
    # A field with this key's fingerprint but another child's key: not trusted, the input stays foreign.
    psbt = _multi([mine, script.p2wpkh(child.get_public_key())])
    psbt.inputs[1].bip32_derivations[child.get_public_key()] = DerivationPath(_fingerprint(root), [0, 2])
    refused(psbt, "foreign_input")
    # A hardened step under this key's fingerprint: no party could sign it.
    psbt = _multi([mine, script.p2wpkh(child.get_public_key())])
    psbt.inputs[1].bip32_derivations[child.get_public_key()] = DerivationPath(_fingerprint(root), [2**31, 1])
    refused(psbt, "hardened_not_possible")
    # Two inputs spending one output.
    psbt = _multi([mine, mine])
    psbt.inputs[1].txid, psbt.inputs[1].vout = psbt.inputs[0].txid, psbt.inputs[0].vout
    refused(psbt, "invalid_psbt")
    # What a node is told (one path per input): a wrong count, or a path whose child does not own the input.
    two = _multi([mine, script.p2wpkh(child.get_public_key())])
    refused(two, "intent_mismatch", replace(key, input_paths=(None,)))
    refused(two, "foreign_input", replace(key, input_paths=(None, "m/0/2")))
    refused(two, "foreign_input", replace(key, input_paths=("m/0/1", None)))
    assert [t.derivation_path for t in prepare("bitcoin", two.to_string(),
                                               replace(key, input_paths=(None, "m/0/1"))).inputs] == [None, "m/0/1"]
    # A Taproot key: at most one FROST batch (256 inputs); the same key's P2WPKH output is not its own.
    refused(_multi([script.p2tr(own.get_public_key())] * 257), "too_many_inputs", tr)
    refused(_multi([mine]), "foreign_input", tr)


# ---- solana --------------------------------------------------------------------------------------


def _solana_tx(payer: Pubkey, lamports: int = 1234) -> str:
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey.new_unique(), lamports=lamports))
    message = Message.new_with_blockhash([ix], payer, Hash.new_unique())
    return base64.b64encode(bytes(Transaction.new_unsigned(message))).decode()


def test_solana_transfer_signed_and_verified_by_solders() -> None:
    keypair = Keypair()
    key = KeyContext("solana", "ed25519", "frost", bytes(keypair.pubkey()))
    payload = _solana_tx(keypair.pubkey())
    prepared = prepare("solana", payload, key)
    assert prepared.summary["amount"] == 1234 and prepared.summary["from"] == str(keypair.pubkey())
    (target,) = prepared.inputs
    result = finalize("solana", payload, key, [bytes(keypair.sign_message(target.message))])
    signed = VersionedTransaction.from_bytes(base64.b64decode(result["transaction"]))
    assert signed.verify_with_results() == [True]
    assert result["signature"] == str(signed.signatures[0])
    with pytest.raises(TransactionError) as err:
        finalize("solana", payload, key, [bytes(Keypair().sign_message(target.message))])
    assert err.value.code == "invalid_signature"


def test_solana_refusals() -> None:
    keypair = Keypair()
    key = KeyContext("solana", "ed25519", "frost", bytes(keypair.pubkey()))
    trailing = base64.b64encode(base64.b64decode(_solana_tx(keypair.pubkey())) + b"\0").decode()
    for payload, code in [(_solana_tx(Keypair().pubkey()), "foreign_signer"), ("AAEC", "invalid_transaction"),
                          ("%%%", "invalid_transaction"), (trailing, "invalid_transaction")]:
        with pytest.raises(TransactionError) as err:
            prepare("solana", payload, key)
        assert err.value.code == code, (payload, str(err.value))
