"""`mpc keys xpub|address` and `mpc tx sign` as real subprocesses against the real stack: the summary is
printed before the result, and the signed transaction verifies with the chain's own library."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from bip_utils import Bip32Secp256k1, P2TRAddr
from embit import ec, script
from embit.psbt import PSBT
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from solders.hash import Hash
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolanaTransaction
from solders.transaction import VersionedTransaction

from tests.cli.conftest import NODES
from tests.cli.test_client import fields, mpc
from tests.stack import Stack


def test_keys_xpub_and_address(stack: Stack) -> None:
    made = mpc(stack, "keys", "create", "--chain-type", "bitcoin", "--protocol", "frost", "--threshold", "2",
               "--nodes", ",".join(NODES), "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    assert key["allow_raw_digest"] is False
    xpub = mpc(stack, "keys", "xpub", key["key_id"])
    assert xpub.returncode == 0, xpub.stderr
    root = Bip32Secp256k1.FromExtendedKey(xpub.stdout.strip())
    address = mpc(stack, "keys", "address", key["key_id"], "--path", "m/0/17")
    assert address.returncode == 0, address.stderr
    child = root.DerivePath("m/0/17").PublicKey().RawCompressed().ToBytes()
    assert fields(address.stdout)["address"] == P2TRAddr.EncodeKey(child, hrp="bc")
    child_xpub = mpc(stack, "keys", "xpub", key["key_id"], "--path", "m/0/17").stdout.strip()
    assert child_xpub == root.DerivePath("m/0/17").PublicKey().ToExtended()
    hardened = mpc(stack, "keys", "address", key["key_id"], "--path", "m/0'/17")
    assert hardened.returncode == 2 and "hardened_not_possible" in hardened.stderr

    # A PSBT spending the child's output: the summary first, then the finalised transaction.
    x_only = bytes.fromhex(fields(address.stdout)["verifying_key"])
    payee = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    psbt = PSBT(Transaction(vin=[TransactionInput(os.urandom(32), 0)], vout=[TransactionOutput(20_000, payee)]))
    psbt.inputs[0].witness_utxo = TransactionOutput(21_000, script.Script(b"\x51\x20" + x_only))
    path = Path(stack.data_dir) / f"{key['key_id']}.psbt"
    path.write_bytes(psbt.serialize())  # binary: the CLI base64-encodes it
    signed = mpc(stack, "tx", "sign", key["key_id"], "--psbt", str(path), "--path", "m/0/17")
    assert signed.returncode == 0, signed.stderr
    out = signed.stdout
    assert out.index("fee: 1000") < out.index("raw_transaction: ")
    assert f"output: 20000 sat to {payee.address()}" in out
    final = PSBT.from_string(fields(out)["psbt"])
    assert final.inputs[0].final_scriptwitness is not None


def test_tx_sign_solana(stack: Stack) -> None:
    made = mpc(stack, "keys", "create", "--chain-type", "solana", "--threshold", "2", "--nodes", ",".join(NODES),
               "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    payer, payee = Pubkey.from_string(key["address"]), Pubkey.new_unique()
    message = Message.new_with_blockhash([transfer(TransferParams(from_pubkey=payer, to_pubkey=payee, lamports=42))],
                                         payer, Hash.new_unique())
    path = Path(stack.data_dir) / f"{key['key_id']}.soltx"
    path.write_text(base64.b64encode(bytes(SolanaTransaction.new_unsigned(message))).decode())
    signed = mpc(stack, "tx", "sign", key["key_id"], "--solana-tx", str(path))
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.index(f"instruction: transfer 42 lamports to {payee}") < signed.stdout.index("signature: ")
    tx = VersionedTransaction.from_bytes(base64.b64decode(fields(signed.stdout)["transaction"]))
    assert tx.verify_with_results() == [True]
    raw = mpc(stack, "sign", key["key_id"], "--digest", "44" * 32)
    assert raw.returncode == 2 and "raw_digest_not_allowed" in raw.stderr
