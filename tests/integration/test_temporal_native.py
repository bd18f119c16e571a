"""Temporal-native operations: search attributes an operator can query, and the progress query."""

from __future__ import annotations

from temporalio.client import Client

from mpc.codec import EncryptionCodec
from mpc.temporal_client import connect
from tests.integration.helpers import create_key, sign
from tests.stack import Stack


async def _client(stack: Stack) -> Client:
    return await connect(stack.env["TEMPORAL_ADDRESS"], "default",
                         EncryptionCodec.from_hex([stack.env["PAYLOAD_CODEC_KEY"]]))


async def test_search_attributes_and_progress_query(stack: Stack) -> None:
    import asyncio

    def work() -> tuple[dict, dict]:
        with stack.client() as api:
            key = create_key(api, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=["p1", "p2", "p3"])
            return key, sign(api, key["key_id"], b"searchable")

    key, signed = await asyncio.to_thread(work)
    client = await _client(stack)
    query = f"MpcKeyId = '{key['key_id']}' AND MpcOperation = 'sign' AND MpcStatus = 'completed'"
    for _ in range(50):  # visibility is eventually consistent
        found = [w async for w in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert [w.id for w in found] == [signed["workflow_id"]]
    attributes = found[0].typed_search_attributes
    assert {p.key.name: p.value for p in attributes}.items() >= {
        "MpcKeyId": key["key_id"], "MpcProtocol": "frost", "MpcCurve": "secp256k1-tr", "MpcChain": "bitcoin",
        "MpcOperation": "sign", "MpcStatus": "completed"}.items()

    progress = await client.get_workflow_handle(signed["workflow_id"]).query("progress")
    assert progress["status"] == "completed"
    assert progress["current_round"] == progress["total_rounds"] >= 1
