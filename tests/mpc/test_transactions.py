"""mpc.transactions with single-party keys standing in for the threshold signature: what it asks to sign is
what the chains' own libraries sign (eth-account's sign_transaction, bdk's finaliser, solders' verify),
and malformed or foreign transactions are refused with stable codes."""

from __future__ import annotations

import base64
import hashlib
import os

import bdkpython as bdk
import pytest
from coincurve import PrivateKey
from embit import ec, script
from embit.psbt import PSBT
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
        (_psbt(mine, n_inputs=2), "too_many_inputs"),
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
