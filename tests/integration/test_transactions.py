"""Chain transactions signed end to end through POST /v1/keys/{id}/transactions on the real stack.

Ethereum: an EIP-1559 and a legacy EIP-155 transfer from a BIP-32 child of a GG20 key, executed by an
in-process chain (eth-tester on py-evm) funded at the child's address: the balances move. Bitcoin: a Taproot
key-path PSBT (BIP-86, and a child with a script tree) and a P2WPKH PSBT, finalised by Bitcoin Dev Kit in the
API and their signatures checked again here. Solana: a transfer whose signed transaction verifies with
solders. Purpose binding: these keys refuse bare digests and transactions of other chains; malformed
transactions, wrong chain ids, someone else's outputs and hardened paths are 4xx and start nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import bdkpython as bdk
import httpx
import pytest
from bip_utils import Bip32Secp256k1
from coincurve import PublicKey, PublicKeyXOnly
from embit import ec, script
from embit.psbt import PSBT
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from solders.hash import Hash
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolanaTransaction
from solders.transaction import VersionedTransaction

from tests.integration.helpers import create_key
from tests.stack import Stack


def _tx(client: httpx.Client, key_id: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.post(f"/v1/keys/{key_id}/transactions?wait=true", json=body)
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["status"] == "completed", session["error"]
    assert session["transaction"]["chain"] == body["chain"] and session["result"] is not None
    audit = client.get("/v1/audit-logs", params={"session_id": session["session_id"]}).json()["entries"]
    assert any(e["action"] == "key.transaction_request" and e["details"]["transaction"] == session["transaction"]
               for e in audit)
    return session


def _sessions(client: httpx.Client) -> int:
    return int(client.get("/v1/sessions", params={"limit": 1}).json()["total"])


def test_ethereum_eip1559_and_legacy_transfers_execute(stack: Stack) -> None:
    chain = EthereumTester(PyEVMBackend())
    funder = chain.get_accounts()[0]
    chain_id = chain.backend.chain.chain_id
    with stack.client(timeout=240) as client:
        key = create_key(client, protocol="gg20", chain_type="ethereum", threshold=2, nodes=["p2", "p4", "p5"],
                         allow_raw_digest=None)
        assert key["allow_raw_digest"] is False  # an ethereum key signs transactions only
        path = "m/0/3"
        child = client.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": path}).json()["address"]
        chain.send_transaction({"from": funder, "to": child, "value": 10**18, "gas": 21000,
                                "max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 10**9})
        assert chain.get_balance(child) == 10**18
        payee_before = chain.get_balance(funder)
        eip1559 = {"type": 2, "chainId": chain_id, "nonce": 0, "to": funder, "value": 10**17, "gas": 21000,
                   "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "data": "0x", "accessList": []}
        session = _tx(client, key["key_id"], {"chain": "ethereum", "transaction": eip1559, "derivation_path": path})
        summary, result = session["transaction"], session["result"]
        assert (summary["from"], summary["to"], summary["amount"]) == (child, funder, str(10**17))
        assert summary["fee"] == str(21000 * 10**10) and summary["chain_id"] == chain_id
        raw = result["raw_transaction"]
        assert Account.recover_transaction(raw) == child != key["address"]
        tx_hash = chain.send_raw_transaction(raw)
        assert tx_hash == result["transaction_hash"]
        assert chain.get_transaction_receipt(tx_hash)["status"] == 1
        assert chain.get_balance(funder) == payee_before + 10**17
        spent = 10**18 - chain.get_balance(child)
        assert 10**17 < spent <= 10**17 + 21000 * 10**10
        # Legacy EIP-155 from the same child, nonce 1.
        legacy = {"chainId": chain_id, "nonce": 1, "to": funder, "value": 12345, "gas": 21000, "gasPrice": 10**10}
        session = _tx(client, key["key_id"], {"chain": "ethereum", "transaction": legacy, "derivation_path": path})
        tx_hash = chain.send_raw_transaction(session["result"]["raw_transaction"])
        assert chain.get_transaction_receipt(tx_hash)["status"] == 1
        assert chain.get_balance(funder) == payee_before + 10**17 + 12345

        # Refused before anything starts: a bare digest, another chain, malformed or chain-id-less
        # transactions, hardened paths; no session, so no nonce or presignature was touched.
        before = _sessions(client)
        cases = [
            ("/sign", {"digest": "22" * 32}, "raw_digest_not_allowed"),
            ("/transactions", {"chain": "bitcoin", "psbt": "cHNidP8="}, "chain_mismatch"),
            ("/transactions", {"chain": "ethereum", "transaction": {**eip1559, "chainId": 0}}, "invalid_chain_id"),
            ("/transactions", {"chain": "ethereum", "transaction": {k: v for k, v in eip1559.items()
                                                                   if k != "chainId"}}, "invalid_chain_id"),
            ("/transactions", {"chain": "ethereum", "transaction": {**eip1559, "value": "lots"}},
             "invalid_transaction"),
            ("/transactions", {"chain": "ethereum", "transaction": {**eip1559, "to": "0x12"}}, "invalid_transaction"),
            ("/transactions", {"chain": "ethereum", "transaction": eip1559, "derivation_path": "m/0'/3"},
             "hardened_not_possible"),
            ("/transactions", {"chain": "ethereum", "transaction": "0xf86c"}, "invalid_transaction"),
        ]
        for suffix, body, code in cases:
            reply = client.post(f"/v1/keys/{key['key_id']}{suffix}", json=body)
            assert reply.status_code == 422 and reply.json()["error"]["code"] == code, (body, reply.text)
        assert _sessions(client) == before


def _psbt(spk: script.Script, amount: int, root: bytes | None = None, internal: bytes | None = None) -> str:
    payee = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    tx = Transaction(vin=[TransactionInput(os.urandom(32), 1)], vout=[TransactionOutput(amount - 1_500, payee)])
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(amount, spk)
    psbt.inputs[0].taproot_merkle_root = root
    if internal is not None:
        psbt.inputs[0].taproot_internal_key = ec.PublicKey.from_xonly(internal)
    return psbt.to_string()


def _taproot_output(internal: bytes, root: bytes | None) -> bytes:
    """BIP-341 taproot_tweak_pubkey with hashlib and libsecp256k1, independent of the service's code."""
    tag = hashlib.sha256(b"TapTweak").digest()
    tweak = hashlib.sha256(tag + tag + internal + (root or b"")).digest()
    return PublicKey(b"\x02" + internal).add(tweak).format()[1:]


def _check_bitcoin(unsigned: str, result: dict[str, Any]) -> bytes:
    """The finalised PSBT extracts to the raw transaction (bdk); returns the input's final witness stack top."""
    final = bdk.Psbt(result["psbt"])
    assert bytes(final.extract_tx().serialize()).hex() == result["raw_transaction"]
    signed = PSBT.from_string(result["psbt"])
    assert signed.tx.txid() == PSBT.from_string(unsigned).tx.txid()  # nothing but witnesses added
    witness = signed.inputs[0].final_scriptwitness
    assert witness is not None
    return bytes(witness.items[0])


def test_bitcoin_taproot_key_path_psbts(stack: Stack) -> None:
    with stack.client() as client:
        key = create_key(client, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"],
                         allow_raw_digest=None)
        assert key["allow_raw_digest"] is False
        xpub = client.get(f"/v1/keys/{key['key_id']}/xpub").json()["xpub"]
        for path, root in ((None, None), ("m/1/9", hashlib.sha256(b"tapleaf").digest())):
            if path is None:
                internal = bytes.fromhex(key["public_key"])
            else:
                internal = Bip32Secp256k1.FromExtendedKey(xpub).DerivePath(path).PublicKey().RawCompressed(
                    ).ToBytes()[1:]
            output = _taproot_output(internal, root)
            unsigned = _psbt(script.Script(b"\x51\x20" + output), 50_000, root, internal if root else None)
            body: dict[str, Any] = {"chain": "bitcoin", "psbt": unsigned}
            if path:
                body["derivation_path"] = path
            session = _tx(client, key["key_id"], body)
            summary = session["transaction"]
            assert summary["fee"] == 1_500 and summary["inputs"][0]["amount"] == 50_000
            assert summary["amount"] == 48_500 and len(summary["to"]) == 1
            signature = _check_bitcoin(unsigned, session["result"])
            sighash = PSBT.from_string(unsigned).sighash(0, sighash=SIGHASH.DEFAULT)
            assert len(signature) == 64 and PublicKeyXOnly(output).verify(signature, sighash)

        # Someone else's output, a malformed PSBT: refused (several inputs: test_psbt_inputs.py), nothing started.
        before = _sessions(client)
        stranger = script.p2tr(ec.PrivateKey(os.urandom(32)).get_public_key())
        for psbt, code in ((_psbt(stranger, 10_000), "foreign_input"), ("bm90IGEgcHNidA==", "invalid_psbt")):
            reply = client.post(f"/v1/keys/{key['key_id']}/transactions", json={"chain": "bitcoin", "psbt": psbt})
            assert reply.status_code == 422 and reply.json()["error"]["code"] == code, reply.text
        assert _sessions(client) == before


def test_bitcoin_p2wpkh_psbt(stack: Stack) -> None:
    with stack.client(timeout=240) as client:
        key = create_key(client, protocol="gg20", chain_type="bitcoin", threshold=2, nodes=["p1", "p4", "p5"],
                         allow_raw_digest=None)
        point = bytes.fromhex(key["public_key"])
        unsigned = _psbt(script.p2wpkh(ec.PublicKey.parse(point)), 80_000)
        session = _tx(client, key["key_id"], {"chain": "bitcoin", "psbt": unsigned})
        assert session["transaction"]["inputs"][0]["address"] == key["address"]
        signed = PSBT.from_string(session["result"]["psbt"])
        witness = signed.inputs[0].final_scriptwitness.items
        assert bytes(witness[1]) == point and witness[0][-1] == SIGHASH.ALL
        psbt = PSBT.from_string(unsigned)
        sighash = psbt.sighash_segwit(0, script.p2pkh(ec.PublicKey.parse(point)), 80_000, SIGHASH.ALL)
        assert PublicKey(point).verify(bytes(witness[0][:-1]), sighash, hasher=None)  # libsecp256k1, DER
        _check_bitcoin(unsigned, session["result"])


def test_solana_transfer(stack: Stack) -> None:
    with stack.client() as client:
        key = create_key(client, curve="ed25519", chain_type="solana", threshold=2, nodes=["p1", "p2", "p3"],
                         allow_raw_digest=None)
        payer, payee = Pubkey.from_string(key["address"]), Pubkey.new_unique()
        message = Message.new_with_blockhash([transfer(TransferParams(from_pubkey=payer, to_pubkey=payee,
                                                                      lamports=777))], payer, Hash.new_unique())
        unsigned = base64.b64encode(bytes(SolanaTransaction.new_unsigned(message))).decode()
        session = _tx(client, key["key_id"], {"chain": "solana", "transaction": unsigned})
        assert session["transaction"]["to"] == [str(payee)] and session["transaction"]["amount"] == 777
        signed = VersionedTransaction.from_bytes(base64.b64decode(session["result"]["transaction"]))
        assert signed.verify_with_results() == [True]  # solders: Ed25519 over the message
        assert session["result"]["signature"] == str(signed.signatures[0])
        before = _sessions(client)
        for body, code in (({"chain": "solana", "transaction": unsigned, "derivation_path": "m/0"},
                            "derivation_not_supported"),
                           ({"chain": "solana", "transaction": "AQID"}, "invalid_transaction"),
                           ({"chain": "ethereum", "transaction": {}}, "chain_mismatch"),
                           ({"chain": "solana", "psbt": "cHNidP8="}, "validation_error")):
            reply = client.post(f"/v1/keys/{key['key_id']}/transactions", json=body)
            assert reply.status_code == 422 and reply.json()["error"]["code"] == code, (body, reply.text)
        assert _sessions(client) == before


@pytest.mark.parametrize("chain", ["schnorr"])
def test_raw_digest_default_stays_on_for_schnorr_keys(stack: Stack, chain: str) -> None:
    with stack.client() as client:
        key = create_key(client, curve="secp256k1-tr", chain_type=chain, threshold=2, nodes=["p1", "p2", "p3"],
                         allow_raw_digest=None)
        assert key["allow_raw_digest"] is True
        reply = client.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digest": "33" * 32})
        assert reply.status_code == 200 and reply.json()["status"] == "completed", reply.text
