"""Drive a multi-round `tss` protocol across its parties: handshake, then rounds 1..n."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import SPECS, Activity
    from workflows.driver import SessionFailedError, route, run_on_nodes
    from workflows.types import (
        Party,
        ProtocolParams,
        ProtocolRoundInput,
        ProtocolRoundOutput,
        RoundPolicy,
        SessionFailure,
        SessionIntent,
        WireMessage,
    )

HELLO_ACTIVITY = Activity.HELLO.value
ROUND_ACTIVITY = Activity.ROUND.value


@dataclass
class HelloInput:
    """Round 0: every party contributes fresh randomness to the session id (SECURITY.md S1)."""

    session_id: str
    workflow_id: str
    protocol: str
    parties: list[Party]
    params: ProtocolParams
    intent: SessionIntent | None = None


@dataclass
class ProtocolRun:
    protocol: str
    session_id: str
    workflow_id: str
    parties: list[Party]
    params: ProtocolParams
    total_rounds: int
    policy: RoundPolicy
    executors: list[str] = field(default_factory=list)  # nodes that run rounds (default: all parties)
    intent: SessionIntent | None = None


async def drive_protocol(
    run: ProtocolRun, on_round: Callable[[int], Any] | None = None
) -> dict[str, ProtocolRoundOutput]:
    """Run the handshake and every round; return the last round's output per node."""
    nodes: Sequence[str] = run.executors or [p.node_id for p in run.parties]
    spec = SPECS.get(run.protocol)
    if spec is not None and spec.timeout_scale != 1.0:  # rounds of Paillier proofs: seconds per party
        run = dataclasses.replace(run, policy=dataclasses.replace(
            run.policy, round_timeout_seconds=run.policy.round_timeout_seconds * spec.timeout_scale))
    hello = HelloInput(run.session_id, run.workflow_id, run.protocol, run.parties, run.params, run.intent)
    hellos: dict[str, WireMessage] = await run_on_nodes(HELLO_ACTIVITY, nodes, lambda _n: hello, WireMessage,
                                                        run.policy)
    # Every party receives every signed contribution, its own included, and derives the same ssid.
    contributions = [hellos[n] for n in nodes]
    inboxes: dict[str, list[WireMessage]] = {n: [] for n in nodes}
    outputs: dict[str, ProtocolRoundOutput] = {}
    for round_no in range(1, run.total_rounds + 1):
        if on_round is not None:
            await on_round(round_no)
        hello_list = contributions if round_no == 1 else []

        def make_input(
            node: str, round_no: int = round_no, hello_list: list[WireMessage] = hello_list,
            inboxes: dict[str, list[WireMessage]] = inboxes,
        ) -> ProtocolRoundInput:
            return ProtocolRoundInput(
                session_id=run.session_id, workflow_id=run.workflow_id, protocol=run.protocol, round=round_no,
                total_rounds=run.total_rounds, parties=run.parties, params=run.params, inbound=inboxes[node],
                intent=run.intent, hello=hello_list,
            )

        outputs = await run_on_nodes(ROUND_ACTIVITY, nodes, make_input, ProtocolRoundOutput, run.policy)
        executor_parties = [p for p in run.parties if p.node_id in set(nodes)]
        inboxes = route(executor_parties, [m for n in nodes for m in outputs[n].outbound])
    return outputs


def agreed_public_result(outputs: dict[str, ProtocolRoundOutput]) -> dict[str, Any]:
    """Every party must report the same public result (group key, verifying shares)."""
    results = {node: out.public_result for node, out in outputs.items()}
    reference_node = sorted(results)[0]
    reference = results[reference_node]
    if reference is None:
        raise SessionFailedError(SessionFailure("missing_result", f"{reference_node} returned no result",
                                                node=reference_node))
    disagreeing = sorted(node for node, result in results.items() if result != reference)
    if disagreeing:
        raise SessionFailedError(SessionFailure(
            "result_mismatch", f"parties disagree on the result: {', '.join(disagreeing)} differ from {reference_node}",
            nodes=disagreeing))
    return reference
