"""Fair blame (SECURITY.md A5): a refused request names no node and never flags a key or replaces an
honest node; only a protocol violation names its culprit.

`failure_from` is tested directly; the sign workflow runs on the session's Temporal dev server with
replacement coordinator and participant activities registered under the real names (no database,
no nodes), on fresh task queues and node ids per test.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError, TimeoutType
from temporalio.worker import Worker

from mpc.queues import participant_task_queue
from workflows.driver import INVALID_REQUEST, PROTOCOL_VIOLATION, failure_from
from workflows.sign import REPLACEABLE, SignWorkflow
from workflows.types import (
    AggregateInput,
    AuditInput,
    ClaimCommitmentsInput,
    ClaimCommitmentsResult,
    FinishKeyInput,
    FrostSignRequest,
    Party,
    PreprocessRequest,
    PreprocessResult,
    RoundPolicy,
    SessionFailure,
    SessionUpdate,
    SignBeginInput,
    SignFinishInput,
    SignFinishResult,
    SignRequest,
    WireMessage,
)


def _activity_error(cause: BaseException) -> ActivityError:
    error = ActivityError("activity failed", scheduled_event_id=1, started_event_id=2, identity="test",
                          activity_type="participant.frost_sign", activity_id="1",
                          retry_state=RetryState.NON_RETRYABLE_FAILURE)
    error.__cause__ = cause
    return error


def _app(kind: str, code: str, culprits: list[str] | None = None) -> ApplicationError:
    details: dict[str, Any] = {"code": code}
    if culprits is not None:
        details["culprits"] = culprits
    return ApplicationError(f"{code} happened", details, type=kind, non_retryable=True)


# ---- failure_from -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["nonce_consumed", "unknown_key", "unauthorized", "nonce_unavailable"])
@pytest.mark.parametrize("culprits", [None, [], ["p2"], ["p1", "p3"]], ids=["none", "empty", "other", "two"])
@pytest.mark.parametrize("wrapped", [True, False], ids=["activity", "local"])
def test_invalid_request_names_no_node(code: str, culprits: list[str] | None, wrapped: bool) -> None:
    error = _app(INVALID_REQUEST, code, culprits)
    failure = failure_from("p1", _activity_error(error) if wrapped else error)
    assert (failure.code, failure.node, failure.nodes, failure.reported_by) == (code, None, [], "p1")
    assert "p1" in failure.message


def test_invalid_request_without_details() -> None:
    failure = failure_from("p1", _activity_error(ApplicationError("no", type=INVALID_REQUEST, non_retryable=True)))
    assert (failure.code, failure.node, failure.nodes, failure.reported_by) == ("invalid_request", None, [], "p1")


def test_protocol_violation_names_the_culprit_not_the_reporter() -> None:
    failure = failure_from("p1", _activity_error(_app(PROTOCOL_VIOLATION, "invalid_proof", ["p3", "p2"])))
    assert (failure.code, failure.node, failure.nodes, failure.reported_by) == ("invalid_proof", "p3", ["p3", "p2"],
                                                                                 "p1")


@pytest.mark.parametrize("details", [None, {"code": "bad_signature", "culprits": []}, {"culprits": "p2"}])
def test_unattributed_violation_names_nobody(details: dict[str, Any] | None) -> None:
    error = ApplicationError("bad", *([details] if details else []), type=PROTOCOL_VIOLATION, non_retryable=True)
    failure = failure_from("p1", _activity_error(error))
    assert (failure.node, failure.nodes, failure.reported_by) == (None, [], "p1")


def test_timeout_and_crash_name_the_node_itself() -> None:
    timeout = failure_from("p2", _activity_error(TimeoutError("late", type=TimeoutType.START_TO_CLOSE,
                                                              last_heartbeat_details=[])))
    assert (timeout.code, timeout.node, timeout.nodes, timeout.reported_by) == ("node_timeout", "p2", ["p2"], "p2")
    crash = failure_from("p2", _activity_error(ApplicationError("boom", type="RuntimeError")))
    assert (crash.code, crash.node, crash.nodes, crash.reported_by) == ("node_failed", "p2", ["p2"], "p2")


def test_old_failure_records_still_decode() -> None:
    old = SessionFailure(code="node_timeout", message="late", node="p1", nodes=["p1"])
    assert old.reported_by is None


# ---- the sign workflow with replacement activities ----------------------------------------


@dataclass
class Recorder:
    """What the fake coordinator activities saw."""

    updates: list[SessionUpdate] = field(default_factory=list)
    audits: list[AuditInput] = field(default_factory=list)
    finished: list[FinishKeyInput] = field(default_factory=list)
    signed_by: list[list[str]] = field(default_factory=list)

    def activities(self) -> list[Any]:
        @activity.defn(name="coordinator.update_session")
        async def update_session(change: SessionUpdate) -> None:
            self.updates.append(change)

        @activity.defn(name="coordinator.audit")
        async def audit(entry: AuditInput) -> None:
            self.audits.append(entry)

        @activity.defn(name="coordinator.finish_key")
        async def finish_key(request: FinishKeyInput) -> None:
            self.finished.append(request)

        @activity.defn(name="coordinator.claim_commitments")
        async def claim_commitments(request: ClaimCommitmentsInput) -> ClaimCommitmentsResult:
            return ClaimCommitmentsResult()  # an empty pool: a commitment round first

        @activity.defn(name="coordinator.frost_aggregate")
        async def frost_aggregate(request: AggregateInput) -> str:
            self.signed_by.append([s.node_id for s in request.signers])
            return "51" * 64

        # A FROST session's start and end as one transaction each (workflows/sign.py ONE_TRANSACTION_PATCH).
        @activity.defn(name="coordinator.frost_sign_begin")
        async def frost_sign_begin(request: SignBeginInput) -> ClaimCommitmentsResult:
            self.updates.append(SessionUpdate(request.session_id, status="running", started=True))
            return ClaimCommitmentsResult(remaining=0)  # an empty pool: a commitment round first

        @activity.defn(name="coordinator.frost_sign_finish")
        async def frost_sign_finish(request: SignFinishInput) -> SignFinishResult:
            assert request.single is not None
            signature = await frost_aggregate(request.single)
            self.updates.append(SessionUpdate(request.session_id, status="completed", signature=signature,
                                              finished=True))
            self.audits.append(AuditInput(request.actor, "key.sign", "key", request.single.key_id,
                                          request.session_id, details={"signers": request.signers}))
            return SignFinishResult(signature=signature)

        return [update_session, audit, finish_key, claim_commitments, frost_aggregate, frost_sign_begin,
                frost_sign_finish]


def _node_activities(node: str, refuse: str | None) -> list[Any]:
    @activity.defn(name="participant.frost_preprocess")
    async def preprocess(request: PreprocessRequest) -> PreprocessResult:
        return PreprocessResult(node, [WireMessage(node, "*", 1, f"commitment of {node}")])

    @activity.defn(name="participant.frost_sign")
    async def sign_share(request: FrostSignRequest) -> WireMessage:
        if refuse is not None:
            # A refusal whose details try to name an honest peer: it must not be believed.
            others = [s.node_id for s in request.signers if s.node_id != node]
            raise ApplicationError(f"{node} refuses", {"code": refuse, "culprits": others}, type=INVALID_REQUEST,
                                   non_retryable=True)
        return WireMessage(node, "*", 2, f"share of {node}")

    return [preprocess, sign_share]


async def _run_sign(client: Client, recorder: Recorder, refuse: dict[int, str]) -> tuple[list[str], Any]:
    """Sign with signers 1, 2 and alternate 3 (fresh node ids and queues); `refuse` maps a party index
    to the InvalidRequest code that node answers the share round with. Returns the node ids and the
    workflow's result or failure cause."""
    run = uuid.uuid4().hex[:12]
    nodes = [f"fair-{run}-{i}" for i in range(1, 4)]
    parties = [Party(n, i, "00" * 32, "00" * 32) for i, n in enumerate(nodes, start=1)]
    queue = f"fair-blame-{run}"
    workers = [Worker(client, task_queue=queue, workflows=[SignWorkflow], activities=recorder.activities())]
    workers += [Worker(client, task_queue=participant_task_queue(n),
                       activities=_node_activities(n, refuse.get(i))) for i, n in enumerate(nodes, start=1)]
    request = SignRequest(session_id=f"s-{run}", key_id=f"k-{run}", protocol="frost", curve="ed25519",
                          chain_type="ed25519", digest="00" * 32, signers=parties[:2], alternates=parties[2:],
                          policy=RoundPolicy(round_timeout_seconds=10, max_attempts=2))
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        handle = await client.start_workflow(SignWorkflow.run, request, id=f"sign-{run}", task_queue=queue)
        try:
            outcome: Any = await asyncio.wait_for(handle.result(), 60)
        except WorkflowFailureError as failed:
            outcome = failed.cause
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers))
        await asyncio.gather(*tasks, return_exceptions=True)
    return nodes, outcome


@pytest.fixture
async def temporal_client(temporal_server) -> Client:
    return await Client.connect(temporal_server.address)


async def test_honest_run_completes(temporal_client: Client) -> None:
    """The fakes are wired right: with nobody refusing, the session completes with signers 1 and 2."""
    recorder = Recorder()
    nodes, outcome = await _run_sign(temporal_client, recorder, {})
    assert outcome.signature == "51" * 64 and recorder.signed_by == [nodes[:2]] and not recorder.finished


@pytest.mark.parametrize("code", ["nonce_consumed", "invalid_signing_input", "missing_commitments"])
async def test_a_refusal_neither_flags_the_key_nor_replaces_or_blames_a_node(temporal_client: Client,
                                                                             code: str) -> None:
    assert code not in REPLACEABLE
    recorder = Recorder()
    nodes, outcome = await _run_sign(temporal_client, recorder, {1: code})  # and it claims signer 2 did it
    assert isinstance(outcome, ApplicationError) and outcome.type == "SessionFailed"
    assert outcome.details[0]["code"] == code
    assert outcome.details[0]["node"] is None and outcome.details[0]["nodes"] == []
    assert not recorder.finished, "a refused request flagged the key"
    assert not recorder.signed_by
    assert not [a for a in recorder.audits if a.action == "sign.replace_signer"], "a node was replaced"
    failed = [u.error for u in recorder.updates if u.error is not None]
    assert len(failed) == 1 and failed[0].node is None and failed[0].nodes == []
    assert failed[0].reported_by == nodes[0]
    final = next(a for a in recorder.audits if a.action == "key.sign")
    assert final.status == "failure" and final.details["flagged"] is False and final.details["node"] is None


@pytest.mark.parametrize("code", ["nonce_unavailable", "share_unavailable"])
async def test_a_node_local_refusal_replaces_the_node_that_reported_it(temporal_client: Client, code: str) -> None:
    """A node without its nonce or share is replaced by the alternate (never the peer its details name);
    the session completes and nothing is flagged."""
    recorder = Recorder()
    nodes, outcome = await _run_sign(temporal_client, recorder, {2: code})
    assert outcome.signature == "51" * 64
    assert recorder.signed_by == [[nodes[0], nodes[2]]] and not recorder.finished
    replaced = [a for a in recorder.audits if a.action == "sign.replace_signer"]
    assert len(replaced) == 1 and replaced[0].details["replacement"] == nodes[2]
    assert replaced[0].details["node"] is None and replaced[0].details["reported_by"] == nodes[1]
