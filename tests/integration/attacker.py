"""The attacker's tools shared by the node-authorisation tests: a Temporal client holding the codec key,
a worker for the probe workflow on its own queue, and `run_probe` (one workflow, several direct calls)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from mpc.codec import EncryptionCodec
from mpc.temporal_client import connect
from tests.integration.probe import ProbeAnswer, ProbeCall, ProbeInput, ProbeOutput, ProbeWorkflow
from tests.stack import Stack


@pytest.fixture(scope="module")
async def client(stack: Stack) -> Client:
    return await connect(stack.env["TEMPORAL_ADDRESS"], "default",
                         EncryptionCodec.from_hex([stack.env["PAYLOAD_CODEC_KEY"]]))


@pytest.fixture(scope="module")
async def probe(client: Client) -> AsyncIterator[str]:
    queue = f"test-attacker-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[ProbeWorkflow]):
        yield queue


async def run_probe(client: Client, queue: str, calls: list[ProbeCall]) -> list[ProbeAnswer]:
    out = await client.execute_workflow(ProbeWorkflow.run, ProbeInput(calls), id=f"attacker-{uuid.uuid4()}",
                                        task_queue=queue, result_type=ProbeOutput)
    return out.answers
