"""PSBTs with several inputs (issue 13), signed in one session on the real stack.

A Taproot (FROST) PSBT is one batch session: one nonce per input, each input's BIP-341 sighash with its own
merkle root and BIP-32 child. A P2WPKH (GG20, GG18) PSBT is one session too: one signing run per input under
one intent. Both are finalised by Bitcoin Dev Kit in the API; here bdk extracts them again and every
input's signature is checked with libsecp256k1 (coincurve) against embit's sighash, under a key derived
with bip_utils from the xpub. Inputs of BIP-32 children are found from their PSBT derivation fields (this
key's fingerprint) or the request's `derivation_path`.

On the nodes (the attacker schedules the activities itself with intents the API key really signed): a batch
whose list is reordered or shortened, an input of someone else or of another key among several, a child or
merkle root the PSBT does not pay from, or one run of an ECDSA batch at the wrong index is refused before
any nonce or presignature, naming no node; the very same nonces then sign the honest batch.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import asdict, replace
from typing import Any

import bdkpython as bdk
import httpx
import pytest
from bip_utils import Bip32Secp256k1
from coincurve import PublicKey, PublicKeyXOnly
from embit import ec, script
from embit.psbt import PSBT, DerivationPath
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput
from temporalio.client import Client

from mpc.queues import participant_task_queue
from tests.integration.attacker import run_probe
from tests.integration.helpers import create_key
from tests.integration.intents import make_intent, mint, sign_details
from tests.integration.probe import ProbeCall
from tests.integration.test_batch_sign import own_nonce_id
from tests.integration.test_node_authorisation import fresh_commitments, key_is_active, parties, refused, share_store
from tests.stack import Stack
from workflows.types import FrostBatchSignRequest, FrostSignRequest, SignItem

AMOUNT = 40_000
FEE = 2_500
LEAF = hashlib.sha256(b"a tapleaf").digest()


def _xpub(client: httpx.Client, key: dict[str, Any]) -> Bip32Secp256k1:
    return Bip32Secp256k1.FromExtendedKey(client.get(f"/v1/keys/{key['key_id']}/xpub").json()["xpub"])


def _point(xpub: Bip32Secp256k1, path: str | None) -> bytes:
    node = xpub.DerivePath(path) if path else xpub
    return bytes(node.PublicKey().RawCompressed().ToBytes())


def _taproot_output(internal: bytes, root: bytes | None) -> bytes:
    """BIP-341 taproot_tweak_pubkey with hashlib and libsecp256k1, independent of the service's code."""
    tag = hashlib.sha256(b"TapTweak").digest()
    tweak = hashlib.sha256(tag + tag + internal + (root or b"")).digest()
    return PublicKey(b"\x02" + internal).add(tweak).format()[1:]


def _psbt(spks: list[script.Script], roots: list[bytes | None] | None = None) -> PSBT:
    payee = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    vin = [TransactionInput(os.urandom(32), i) for i in range(len(spks))]
    psbt = PSBT(Transaction(vin=vin, vout=[TransactionOutput(AMOUNT * len(spks) - FEE, payee)]))
    for i, (inp, spk) in enumerate(zip(psbt.inputs, spks, strict=True)):
        inp.witness_utxo = TransactionOutput(AMOUNT, spk)
        inp.taproot_merkle_root = roots[i] if roots else None
    return psbt


def _tap_input(psbt: PSBT, i: int, xpub: Bip32Secp256k1, path: str) -> None:
    """PSBT_IN_TAP_BIP32_DERIVATION: the input's internal key is this key's child at `path`."""
    internal = ec.PublicKey.parse(_point(xpub, path))
    indices = [int(step) for step in path.split("/")[1:]]
    psbt.inputs[i].taproot_bip32_derivations[internal] = ([], DerivationPath(xpub.FingerPrint().ToBytes(), indices))


def _sighashes(psbt_b64: str, points: list[bytes] | None = None) -> list[bytes]:
    """BIP-341 (Taproot, no `points`) or BIP-143 with each input's P2WPKH script code (embit's primitives)."""
    psbt = PSBT.from_string(psbt_b64)
    if points is None:
        return [bytes(psbt.sighash(i, sighash=SIGHASH.DEFAULT)) for i in range(len(psbt.inputs))]
    return [bytes(psbt.sighash_segwit(i, script.p2pkh(ec.PublicKey.parse(point)), AMOUNT, SIGHASH.ALL))
            for i, point in enumerate(points)]


def _sign(client: httpx.Client, key_id: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = client.post(f"/v1/keys/{key_id}/transactions?wait=true", json=body)
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["status"] == "completed", session["error"]
    assert "error" not in session["result"], session["result"]
    return session


def _finalised(unsigned: str, result: dict[str, Any]) -> PSBT:
    """bdk extracts the raw transaction again; nothing but witnesses was added; every input is final."""
    assert bytes(bdk.Psbt(result["psbt"]).extract_tx().serialize()).hex() == result["raw_transaction"]
    signed = PSBT.from_string(result["psbt"])
    assert signed.tx.txid() == PSBT.from_string(unsigned).tx.txid()
    assert all(inp.final_scriptwitness is not None for inp in signed.inputs)
    return signed


def _sessions(client: httpx.Client) -> int:
    return int(client.get("/v1/sessions", params={"limit": 1}).json()["total"])


@pytest.fixture(scope="module")
def taproot_key(stack: Stack) -> dict[str, Any]:
    with stack.client() as client:
        return create_key(client, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"],
                          allow_raw_digest=None)


@pytest.fixture(scope="module")
def ecdsa_key(stack: Stack) -> dict[str, Any]:
    with stack.client(timeout=240) as client:
        return create_key(client, protocol="gg20", chain_type="bitcoin", threshold=2, nodes=["p1", "p4", "p5"],
                          allow_raw_digest=None)


def test_taproot_psbt_with_two_inputs_is_one_batch(stack: Stack, taproot_key: dict[str, Any]) -> None:
    """Input 0: the key's own BIP-86 output. Input 1: a child's output with a script tree, found from its
    PSBT_IN_TAP_BIP32_DERIVATION. Then both inputs of one child named by the request's derivation_path."""
    key_id = taproot_key["key_id"]
    with stack.client() as client:
        xpub = _xpub(client, taproot_key)
        for paths, roots, request_path in (((None, "m/1/9"), (None, LEAF), None),
                                           (("m/0/4", "m/0/4"), (LEAF, None), "m/0/4")):
            internals = [_point(xpub, p)[1:] for p in paths]
            outputs = [_taproot_output(k, r) for k, r in zip(internals, roots, strict=True)]
            psbt = _psbt([script.Script(b"\x51\x20" + o) for o in outputs], list(roots))
            if request_path is None:
                _tap_input(psbt, 1, xpub, "m/1/9")
            unsigned = psbt.to_string()
            body = {"chain": "bitcoin", "psbt": unsigned, **({"derivation_path": request_path} if request_path
                                                            else {})}
            session = _sign(client, key_id, body)
            sighashes = _sighashes(unsigned)
            assert session["message_hashes"] == [h.hex() for h in sighashes] and session["message_hash"] is None
            assert session["total_rounds"] in (1, 2)  # one batch: pooled nonces, or one commitment round first
            summary = session["transaction"]
            assert [i["derivation_path"] for i in summary["inputs"]] == list(paths)
            assert summary["fee"] == FEE and summary["amount"] == 2 * AMOUNT - FEE
            signed = _finalised(unsigned, session["result"])
            for inp, output, sighash, signature in zip(signed.inputs, outputs, sighashes, session["signatures"],
                                                       strict=True):
                (witness,) = inp.final_scriptwitness.items
                assert bytes(witness).hex() == signature and len(witness) == 64
                assert PublicKeyXOnly(output).verify(bytes(witness), sighash)  # BIP-340, libsecp256k1


def test_p2wpkh_psbt_with_two_inputs_is_one_session(stack: Stack, ecdsa_key: dict[str, Any]) -> None:
    """GG20: input 0 the key's own output, input 1 a child's (its PSBT_IN_BIP32_DERIVATION names this key's
    fingerprint); one session, one GG20 run (presign and sign) per input."""
    key_id = ecdsa_key["key_id"]
    with stack.client(timeout=300) as client:
        xpub = _xpub(client, ecdsa_key)
        points = [_point(xpub, None), _point(xpub, "m/0/2")]
        assert points[0] == bytes.fromhex(ecdsa_key["public_key"])
        psbt = _psbt([script.p2wpkh(ec.PublicKey.parse(p)) for p in points])
        for inp, point, indices in zip(psbt.inputs, points, ([], [0, 2]), strict=True):
            inp.bip32_derivations[ec.PublicKey.parse(point)] = DerivationPath(xpub.FingerPrint().ToBytes(), indices)
        unsigned = psbt.to_string()
        session = _sign(client, key_id, {"chain": "bitcoin", "psbt": unsigned})
        assert session["total_rounds"] == 2 * 9 and session["current_round"] == 2 * 9  # GG20: 7 presign + 2 sign
        assert [i["derivation_path"] for i in session["transaction"]["inputs"]] == [None, "m/0/2"]
        sighashes = _sighashes(unsigned, points)
        assert session["message_hashes"] == [h.hex() for h in sighashes]
        signed = _finalised(unsigned, session["result"])
        for inp, point, sighash in zip(signed.inputs, points, sighashes, strict=True):
            der, pub = inp.final_scriptwitness.items
            assert bytes(pub) == point and der[-1] == SIGHASH.ALL
            assert PublicKey(point).verify(bytes(der[:-1]), sighash, hasher=None)  # libsecp256k1, DER

        # Refused before anything starts: someone else's input among several, a child input with no field.
        before = _sessions(client)
        stranger = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
        mine = script.p2wpkh(ec.PublicKey.parse(points[0]))
        for spks in ([mine, stranger], [stranger, mine], [mine, script.p2wpkh(ec.PublicKey.parse(points[1]))]):
            reply = client.post(f"/v1/keys/{key_id}/transactions",
                                json={"chain": "bitcoin", "psbt": _psbt(spks).to_string()})
            assert reply.status_code == 422 and reply.json()["error"]["code"] == "foreign_input", reply.text
        assert _sessions(client) == before


def test_gg18_p2wpkh_psbt_with_two_inputs(stack: Stack) -> None:
    """GG18 has no presignatures: one 11-round GG18 signing per input, in the same session."""
    with stack.client(timeout=300) as client:
        key = create_key(client, protocol="gg18", chain_type="bitcoin", threshold=2, nodes=["p2", "p3", "p5"],
                         allow_raw_digest=None)
        point = bytes.fromhex(key["public_key"])
        unsigned = _psbt([script.p2wpkh(ec.PublicKey.parse(point))] * 2).to_string()
        session = _sign(client, key["key_id"], {"chain": "bitcoin", "psbt": unsigned})
        assert session["total_rounds"] == 2 * 11
        signed = _finalised(unsigned, session["result"])
        for inp, sighash in zip(signed.inputs, _sighashes(unsigned, [point, point]), strict=True):
            der, pub = inp.final_scriptwitness.items
            assert bytes(pub) == point and PublicKey(point).verify(bytes(der[:-1]), sighash, hasher=None)


# ---- on the nodes ---------------------------------------------------------------------------------------


def _intent(stack: Stack, key_id: str, protocol: str, psbt_b64: str, digests: list[str],
            roots: list[str | None] | None = None, paths: list[str | None] | None = None) -> Any:
    """A batch intent as the API issues it for a PSBT (api/orchestration.py start_signing)."""
    details: dict[str, Any] = {**sign_details("", ["p1", "p2"] if protocol == "frost" else ["p1", "p4"],
                                              protocol=protocol, chain_type="bitcoin"),
                               "digest": None, "digests": digests, "derivation_path": None,
                               "transaction": {"chain": "bitcoin", "payload": psbt_b64}}
    if roots is not None:
        details["taproot_merkle_roots"] = roots
    if paths is not None:
        details["derivation_paths"] = paths
    return mint(stack, make_intent(operation="sign", key_id=key_id, details=details))


async def test_frost_nodes_check_every_input_of_the_psbt(stack: Stack, client: Client, probe: str,
                                                         taproot_key: dict[str, Any]) -> None:
    key_id, signers = taproot_key["key_id"], parties(stack, ["p1", "p2"])
    with stack.client() as api:
        xpub = _xpub(api, taproot_key)
        other = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"],
                           allow_raw_digest=None)
    internals = [_point(xpub, None)[1:], _point(xpub, "m/0/5")[1:]]
    mine = [script.Script(b"\x51\x20" + _taproot_output(internals[0], None)),
            script.Script(b"\x51\x20" + _taproot_output(internals[1], LEAF))]
    psbt = _psbt(mine, [None, LEAF]).to_string()
    d0, d1 = (h.hex() for h in _sighashes(psbt))
    roots, paths = [None, LEAF.hex()], [None, "m/0/5"]
    first = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    second = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    honest = FrostBatchSignRequest(
        session_id=f"psbt-{uuid.uuid4()}", key_id=key_id, signers=signers, taproot_tweak=True,
        items=[SignItem(d0, first), SignItem(d1, second, LEAF.hex(), "m/0/5")],
        intent=_intent(stack, key_id, "frost", psbt, [d0, d1], roots, paths))

    def batch_for(spks: list[script.Script], item_roots: list[bytes | None], item_paths: list[str | None]
                  ) -> FrostBatchSignRequest:
        """An intent and batch that sign exactly the sighashes of this PSBT, as claimed."""
        other_psbt = _psbt(spks, item_roots).to_string()
        digests = [h.hex() for h in _sighashes(other_psbt)]
        hexroots = [r.hex() if r else None for r in item_roots]
        items = [SignItem(d, c, r, p) for d, c, r, p in zip(digests, (first, second), hexroots, item_paths,
                                                              strict=True)]
        return replace(honest, items=items, intent=_intent(stack, key_id, "frost", other_psbt, digests, hexroots,
                                                           item_paths))

    stranger = script.p2tr(ec.PrivateKey(os.urandom(32)).get_public_key())
    other_key = script.Script(b"\x51\x20" + bytes.fromhex(other["verifying_key"]))
    swapped = [SignItem(d1, first, LEAF.hex(), "m/0/5"), SignItem(d0, second)]
    attempts = {
        "intent_mismatch": [
            replace(honest, items=swapped),  # the session reordered against its intent
            replace(honest, items=[SignItem(d1, first), SignItem(d0, second, LEAF.hex(), "m/0/5")],
                    intent=_intent(stack, key_id, "frost", psbt, [d1, d0], roots, paths)),  # digests not in PSBT order
            replace(honest, items=honest.items[:1],
                    intent=_intent(stack, key_id, "frost", psbt, [d0])),  # one input left out
            replace(honest, items=[SignItem(d0, first), SignItem(d1, second, None, "m/0/5")],
                    intent=_intent(stack, key_id, "frost", psbt, [d0, d1], None, paths)),  # the merkle root dropped
            replace(honest, intent=_intent(stack, key_id, "frost", psbt, [d0, d1])),  # the roots and children dropped
        ],
        "foreign_input": [
            batch_for([mine[0], stranger], [None, None], [None, None]),  # someone else's input among several
            batch_for([other_key, mine[0]], [None, None], [None, None]),  # an input of another key of the service
            batch_for(mine, [None, LEAF], [None, "m/0/6"]),  # a child the input does not pay from
            # The whole list in another order than the PSBT's: input 0 is not the child's output.
            replace(honest, items=swapped, intent=_intent(stack, key_id, "frost", psbt, [d1, d0], roots[::-1],
                                                          paths[::-1])),
        ],
    }
    calls, expected = [], []
    for code, requests in attempts.items():
        for number, request in enumerate(requests):
            request = replace(request, session_id=f"{honest.session_id}-{code}-{number}")
            for node in ("p1", "p2"):
                calls.append(ProbeCall("participant.frost_sign_batch", participant_task_queue(node), asdict(request)))
                expected.append(code)
    single = FrostSignRequest(session_id=f"{honest.session_id}-single", key_id=key_id, digest=d0, signers=signers,
                              commitments=first, taproot_tweak=True, intent=honest.intent)
    calls += [ProbeCall("participant.frost_sign", participant_task_queue(n), asdict(single)) for n in ("p1", "p2")]
    expected += ["intent_mismatch", "intent_mismatch"]  # the batch intent signs no single input alone
    answers = await run_probe(client, probe, calls)
    for answer, code in zip(answers, expected, strict=True):
        refused(answer, code)
    _, state = share_store(stack, "p1")
    nonces = [own_nonce_id(first[0]), own_nonce_id(second[0])]
    assert not any(state.is_consumed("frost-nonces", n) for n in nonces), "a refused batch consumed a nonce"

    # The honest batch with the very same nonces: two shares per node, both nonces consumed.
    answers = await run_probe(client, probe, [ProbeCall("participant.frost_sign_batch", participant_task_queue(n),
                                                        asdict(honest)) for n in ("p1", "p2")])
    assert all(a.ok for a in answers), [a.message for a in answers]
    assert all(len(a.result["shares"]) == 2 for a in answers)
    assert all(state.is_consumed("frost-nonces", n) for n in nonces)
    key_is_active(stack, key_id)


async def test_ecdsa_nodes_check_each_run_of_the_batch(stack: Stack, client: Client, probe: str,
                                                       ecdsa_key: dict[str, Any]) -> None:
    """One GG20 run signs the intent's digest at its `batch_index`; any other pairing, a list that is not
    the PSBT's, or a PSBT with someone else's input is refused at the hello, before any presignature."""
    # The key's party ids are the keygen positions (p1, p4, p5 -> 1, 2, 3), pinned with every share.
    key_id = ecdsa_key["key_id"]
    signers = [replace(p, party_id=i) for i, p in enumerate(parties(stack, ["p1", "p4"]), start=1)]
    point = bytes.fromhex(ecdsa_key["public_key"])
    mine = script.p2wpkh(ec.PublicKey.parse(point))
    psbt_b64 = _psbt([mine, mine]).to_string()
    digests = [h.hex() for h in _sighashes(psbt_b64, [point, point])]
    intent = _intent(stack, key_id, "gg20", psbt_b64, digests)
    foreign = _psbt([mine, script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())]).to_string()
    foreign_digests = [bytes(PSBT.from_string(foreign).sighash(i, sighash=SIGHASH.ALL)).hex() for i in range(2)]

    def hello(digest: str, index: int | None, signed: Any) -> dict[str, Any]:
        return {"session_id": f"psbt-ecdsa-{uuid.uuid4()}", "workflow_id": f"attacker-{uuid.uuid4()}",
                "protocol": "gg20-presign", "parties": [asdict(p) for p in signers], "intent": asdict(signed),
                "params": {"key_id": key_id, "curve": "secp256k1", "digest": digest, "threshold": 2,
                           "batch_index": index}}

    cases = [
        ("intent_mismatch", hello(digests[1], 0, intent)),  # the digest of another index
        ("intent_mismatch", hello(digests[0], 2, intent)),  # an index the intent does not have
        ("intent_mismatch", hello(digests[0], None, intent)),  # the batch intent used for a single signature
        ("intent_mismatch", hello(digests[1], 0, _intent(stack, key_id, "gg20", psbt_b64, digests[::-1]))),
        ("intent_mismatch", hello(digests[0], 0, _intent(stack, key_id, "gg20", psbt_b64, digests[:1]))),
        ("foreign_input", hello(foreign_digests[0], 0, _intent(stack, key_id, "gg20", foreign, foreign_digests))),
    ]
    answers = await run_probe(client, probe, [ProbeCall("participant.session_hello", participant_task_queue(n), body)
                                              for _, body in cases for n in ("p1", "p4")])
    for answer, code in zip(answers, [c for c, _ in cases for _ in ("p1", "p4")], strict=True):
        refused(answer, code)
    # The honest pairing is answered (a hello is only a session-id contribution: no presignature yet).
    answers = await run_probe(client, probe, [ProbeCall("participant.session_hello", participant_task_queue(n),
                                                        hello(digests[1], 1, intent)) for n in ("p1", "p4")])
    assert all(a.ok for a in answers), [a.message for a in answers]
    key_is_active(stack, key_id)
