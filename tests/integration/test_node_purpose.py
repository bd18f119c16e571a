"""Purpose binding and BIP-32 children enforced by the nodes themselves (SECURITY.md I7, A3), not only the API.

The attacker holds the payload-codec key and schedules `participant.frost_sign` directly, with intents the API
key really signed (the test holds the Vault token) but naming a bare digest on a key that signs transactions
only, a transaction of another chain, a PSBT spending someone else's output, a digest that is not what the
named PSBT signs, a child the PSBT does not pay from, or a hardened path. Each node recomputes what it would
sign from its own sealed package and pinned chain code and refuses, naming no node; the very same nonces then
sign the authorised transaction (nothing was consumed).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import asdict, replace
from typing import Any

from embit import ec, script
from embit.psbt import PSBT
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput
from temporalio.client import Client

from mpc.queues import participant_task_queue
from tests.integration.attacker import run_probe
from tests.integration.helpers import create_key
from tests.integration.intents import make_intent, mint, sign_details
from tests.integration.probe import ProbeCall
from tests.integration.test_node_authorisation import fresh_commitments, key_is_active, parties, refused
from tests.stack import Stack
from workflows.types import FrostSignRequest

PATH = "m/0/5"


def _psbt(spk: script.Script) -> str:
    payee = script.p2wpkh(ec.PrivateKey(os.urandom(32)).get_public_key())
    psbt = PSBT(Transaction(vin=[TransactionInput(os.urandom(32), 0)], vout=[TransactionOutput(9_000, payee)]))
    psbt.inputs[0].witness_utxo = TransactionOutput(10_000, spk)
    return psbt.to_string()


def _sighash(psbt_b64: str) -> str:
    return bytes(PSBT.from_string(psbt_b64).sighash(0, sighash=SIGHASH.DEFAULT)).hex()


async def test_nodes_recompute_what_they_sign(stack: Stack, client: Client, probe: str) -> None:
    with stack.client() as api:
        key = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"],
                         allow_raw_digest=None)
        child = api.get(f"/v1/keys/{key['key_id']}/addresses", params={"path": PATH}).json()
    key_id, signers = key["key_id"], parties(stack, ["p1", "p2"])
    ours = _psbt(script.Script(b"\x51\x20" + bytes.fromhex(child["verifying_key"])))
    theirs = _psbt(script.p2tr(ec.PrivateKey(os.urandom(32)).get_public_key()))
    good_digest = _sighash(ours)
    commitments = await fresh_commitments(client, probe, key_id, ["p1", "p2"])
    base = FrostSignRequest(session_id=f"purpose-{uuid.uuid4()}", key_id=key_id, digest=good_digest, signers=signers,
                            commitments=commitments, taproot_tweak=True, derivation_path=PATH)

    def intent(digest: str, transaction: dict[str, Any] | None, path: str | None = PATH) -> Any:
        details = {**sign_details(digest, ["p1", "p2"], chain_type="bitcoin"), "derivation_path": path}
        if transaction is not None:
            details["transaction"] = transaction
        return mint(stack, make_intent(operation="sign", key_id=key_id, details=details))

    psbt_of = {"chain": "bitcoin", "payload": ours}
    raw_digest = hashlib.sha256(b"a bare digest").hexdigest()
    attempts = {
        "raw_digest_not_allowed": replace(base, digest=raw_digest, intent=intent(raw_digest, None)),
        "intent_mismatch": replace(base, digest=raw_digest, intent=intent(raw_digest, psbt_of)),
        "chain_mismatch": replace(base, intent=intent(good_digest, {"chain": "ethereum", "payload": {}})),
        "foreign_input": replace(base, digest=_sighash(theirs),
                                 intent=intent(_sighash(theirs), {"chain": "bitcoin", "payload": theirs})),
        "hardened_not_possible": replace(base, derivation_path="m/0'/5", intent=intent(good_digest, psbt_of,
                                                                                         "m/0'/5")),
    }
    other_child = replace(base, derivation_path="m/0/6", intent=intent(good_digest, psbt_of, "m/0/6"))
    path_dropped = replace(base, derivation_path=None, intent=intent(good_digest, psbt_of))
    cases = [*attempts.items(), ("foreign_input", other_child), ("intent_mismatch", path_dropped)]
    calls, expected = [], []
    for number, (code, request) in enumerate(cases):
        request = replace(request, session_id=f"{base.session_id}-{number}")
        for node in ("p1", "p2"):
            calls.append(("participant.frost_sign", node, request))
            expected.append(code)
    answers = await run_probe(client, probe, [ProbeCall(a, participant_task_queue(n), asdict(r))
                                              for a, n, r in calls])
    for answer, code in zip(answers, expected, strict=True):
        refused(answer, code)

    # Nothing was consumed: the same nonces sign the authorised transaction.
    authorised = replace(base, session_id=f"{base.session_id}-honest", intent=intent(good_digest, psbt_of))
    answers = await run_probe(client, probe, [ProbeCall("participant.frost_sign", participant_task_queue(n),
                                                        asdict(authorised)) for n in ("p1", "p2")])
    assert all(a.ok for a in answers), [a.message for a in answers]
    key_is_active(stack, key_id)
