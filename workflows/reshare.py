"""ReshareWorkflow: refresh (same committee, new shares) and reshare (new committee and/or threshold).

Two phases (DESIGN.md "Reshare and refresh: two phases", SECURITY.md R3):

1. The protocol rounds (frost-refresh / frost-reshare) on the dealers and the new committee. Every
   new holder stores its share of epoch + 1 *inactive*; the old epoch goes on signing.
2. ACKs from every new holder, a test signature of t' new holders over a domain-separated digest,
   then activation. The first new holder's activation is the commit point: it verifies the ACK set
   and the test signature itself and points its key at the new epoch; the database follows at once,
   then the other new holders activate and every old holder erases the old epoch and its nonces.
   A failure before the commit point fails the session with the key on its old epoch, unchanged; a
   crash anywhere resumes from Temporal history at the step it reached. A node that cannot be reached
   after the commit point does not hold the session up: it completes naming the node, and a catch-up
   workflow (workflows/reshare_catchup.py) asks that node again until it is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import NoReturn

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import KEY_PROTOCOLS, SPECS, Activity, Family, SessionProtocol, SessionStatus
    from mpc.reshare_digests import test_message
    from workflows import coordinator_calls as db
    from workflows.approvals import AwaitsApprovals
    from workflows.driver import SessionFailedError, run_on_nodes, session_failed_error
    from workflows.pool import start_refill
    from workflows.reshare_catchup import ReshareCatchUpWorkflow, catch_up_workflow_id
    from workflows.rounds import ProtocolRun, agreed_public_result, drive_protocol
    from workflows.search import set_status
    from workflows.types import (
        Party,
        Progress,
        ProtocolParams,
        RecordEpochInput,
        ReshareAck,
        ReshareCatchUpRequest,
        ReshareNodeResult,
        ReshareParams,
        ReshareRequest,
        ReshareResult,
        ReshareStep,
        RoundPolicy,
        SessionFailure,
        WireMessage,
        roster_of,
    )

PHASE_TWO_STEPS = 5  # ACK, test commitment, test share, activation, erasure
COMMITTED_ATTEMPTS = 60
"""The first new holder's activation is the commit point: once dispatched its outcome is unknown until
it answers, so it is retried for about half an hour."""
ERASE_ATTEMPTS = 3
"""The other new holders' activation and every erasure get this many attempts in the session; a node
not reached by then is listed (`activation_pending`, `erasure_pending`) and the catch-up workflow asks
it again. Its old share no longer combines with the new committee's meanwhile."""


@workflow.defn(name="Reshare")
class ReshareWorkflow(AwaitsApprovals):
    def __init__(self) -> None:
        super().__init__()
        self._progress = Progress(session_id="", operation="reshare", status=SessionStatus.PENDING, current_round=0,
                                  total_rounds=0)

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, request: ReshareRequest) -> ReshareResult:
        total = self._deal_rounds(request) + PHASE_TWO_STEPS
        if request.approvals_needed > 0 and request.intent is not None:
            outcome = await self._await_approvers(request.session_id, request.operation, request.intent,
                                                  request.approvals_needed, request.approval_timeout_seconds,
                                                  total_rounds=total)
            if isinstance(outcome, SessionFailure):
                await self._fail(request, outcome)
            request = dataclasses.replace(request, intent=outcome)
        self._progress = Progress(request.session_id, request.operation, SessionStatus.RUNNING, 0, total)
        set_status(SessionStatus.RUNNING)
        await db.update_session(request.session_id, status=SessionStatus.RUNNING, total_rounds=total, started=True)
        try:
            package, ack_digest = await self._deal(request)
            step = ReshareStep(request.session_id, request.key_id, request.epoch + 1, ack_digest)
            step = await self._confirm(request, step)
            signature = await self._commit(request, step, package)
        except SessionFailedError as failed:
            await self._fail(request, failed.failure)
        step = dataclasses.replace(step, test_signature=signature, intent=request.intent)
        not_activated = await self._activate_rest(request, step)
        holders = [p.node_id for p in sorted(request.new_parties, key=lambda p: p.party_id)]
        pending = await self._erase(request, step, total)
        if not_activated or pending:
            await workflow.start_child_workflow(
                ReshareCatchUpWorkflow.run,
                ReshareCatchUpRequest(request.operation, step, not_activated, pending,
                                      request.policy.round_timeout_seconds, request.requested_by),
                id=catch_up_workflow_id(request.session_id), parent_close_policy=ParentClosePolicy.ABANDON)
        self._progress.status = SessionStatus.COMPLETED
        set_status(SessionStatus.COMPLETED)
        await db.update_session(request.session_id, status=SessionStatus.COMPLETED, finished=True)
        await db.audit(f"key.{request.operation}", actor=request.requested_by, resource_type="key",
                       resource_id=request.key_id, session_id=request.session_id, epoch=step.epoch, holders=holders,
                       threshold=request.new_threshold, reason=request.reason, erasure_pending=pending,
                       activation_pending=not_activated,
                       group_public_key=package.get("group_public_key"))
        await start_refill(request.key_id, sorted(request.new_parties, key=lambda p: p.party_id),
                           request.pool_target, request.policy)
        return ReshareResult(request.session_id, request.key_id, step.epoch, holders, request.new_threshold,
                             signature, pending, not_activated)

    def _deal_rounds(self, request: ReshareRequest) -> int:
        """Steps of phase one (the protocol's rounds; a recovery from escrow has its one import step)."""
        return SPECS[request.protocol].rounds

    async def _round(self, round_no: int) -> None:
        self._progress.current_round = round_no
        await db.update_session(self._progress.session_id, current_round=round_no)

    async def _deal(self, request: ReshareRequest) -> tuple[dict, str]:
        """Phase one: the protocol rounds; every new holder ends with an inactive share."""
        return await self._deal_rounds_of(request, first_round=1)

    async def _deal_rounds_of(self, request: ReshareRequest, *, first_round: int) -> tuple[dict, str]:
        """The reshare protocol's rounds (`request.protocol`), shown as steps first_round, first_round + 1, ..."""
        parties = _union(request.dealers, request.new_parties)
        reshare = ReshareParams(dealers=sorted(p.party_id for p in request.dealers),
                                new_participants=sorted(p.party_id for p in request.new_parties),
                                new_threshold=request.new_threshold)
        run = ProtocolRun(
            protocol=request.protocol, session_id=request.session_id, workflow_id=workflow.info().workflow_id,
            parties=parties, total_rounds=SPECS[request.protocol].rounds, policy=request.policy,
            intent=request.intent,
            params=ProtocolParams(key_id=request.key_id, curve=request.curve, epoch=request.epoch,
                                  threshold=request.new_threshold, reshare=reshare),
        )
        public = agreed_public_result(await drive_protocol(run, lambda r: self._round(first_round - 1 + r)))
        ack_digest = public.get("ack_digest")
        if not isinstance(ack_digest, str):
            raise SessionFailedError(SessionFailure("missing_result", "the new shares came without an ack digest"))
        return dict(public["package"]), ack_digest

    async def _confirm(self, request: ReshareRequest, step: ReshareStep) -> ReshareStep:
        """ACKs from every new holder, then a test signature of t' of them (each checks the ACK set)."""
        rounds = self._deal_rounds(request)
        new_nodes = _nodes(request.new_parties)
        await self._round(rounds + 1)
        acks: dict[str, ReshareAck] = await run_on_nodes(Activity.RESHARE_ACK.value, new_nodes, lambda _n: step,
                                                         ReshareAck, request.policy)
        signers = sorted(request.new_parties, key=lambda p: p.party_id)[: request.new_threshold]
        step = dataclasses.replace(step, acks=[acks[n] for n in new_nodes], signers=signers)
        await self._round(rounds + 2)
        if KEY_PROTOCOLS[request.key_protocol].family == Family.ECDSA:
            signature = await self._ecdsa_test_signature(request, step)
            await self._round(rounds + 3)
            return dataclasses.replace(step, test_signature=signature)
        commitments: dict[str, WireMessage] = await run_on_nodes(
            Activity.RESHARE_TEST_COMMIT.value, _nodes(signers), lambda _n: step, WireMessage, request.policy)
        step = dataclasses.replace(step, commitments=[commitments[n] for n in _nodes(signers)])
        await self._round(rounds + 3)
        shares: dict[str, WireMessage] = await run_on_nodes(
            Activity.RESHARE_TEST_SIGN.value, _nodes(signers), lambda _n: step, WireMessage, request.policy)
        return dataclasses.replace(step, shares=[shares[n] for n in _nodes(signers)])

    async def _ecdsa_test_signature(self, request: ReshareRequest, step: ReshareStep) -> str:
        """GG18 / GG20 signing with the inactive new shares over the tagged test digest (the nodes
        recognise it and need no intent for it; mpc/reshare_digests.py)."""
        digest = test_message(request.key_id, step.epoch, step.ack_digest).hex()
        params = ProtocolParams(key_id=request.key_id, curve=request.curve, epoch=step.epoch,
                                threshold=len(step.signers), digest=digest)
        public: dict = {}
        for stage in KEY_PROTOCOLS[request.key_protocol].sign:
            run = ProtocolRun(protocol=stage.value, session_id=f"{request.session_id}.test.{stage.value}",
                              workflow_id=workflow.info().workflow_id, parties=list(step.signers),
                              params=dataclasses.replace(params), total_rounds=SPECS[stage].rounds,
                              policy=request.policy)
            public = agreed_public_result(await drive_protocol(run))
            if stage == SessionProtocol.GG20_PRESIGN:
                params.presig_id = str(public["presig_id"])
        return str(public["signature"])

    async def _commit(self, request: ReshareRequest, step: ReshareStep, package: dict) -> str:
        """The commit point: the first new holder verifies everything and activates; the database follows."""
        await self._round(self._deal_rounds(request) + 4)
        first = _nodes(request.new_parties)[0]
        # Once dispatched, the outcome is unknown until the node answers: it may have activated and its
        # answer been lost. So it is retried as patiently as the others; a refusal (bad ACK set or test
        # signature) comes before the node activates anything and fails the session at once.
        results: dict[str, ReshareNodeResult] = await run_on_nodes(
            Activity.RESHARE_ACTIVATE.value, [first], lambda _n: step, ReshareNodeResult,
            _patient(request.policy, COMMITTED_ATTEMPTS))
        ordered = sorted(request.new_parties, key=lambda p: p.party_id)
        await db.call(Activity.RECORD_EPOCH.value, RecordEpochInput(
            session_id=request.session_id, key_id=request.key_id, epoch=step.epoch, package=package,
            holders=[p.node_id for p in ordered], party_ids={p.node_id: p.party_id for p in ordered},
            roster=roster_of(ordered), threshold=request.new_threshold, reason=request.reason or request.operation))
        return results[first].detail

    async def _activate_rest(self, request: ReshareRequest, step: ReshareStep) -> list[str]:
        """The other new holders activate; returns those that did not (the catch-up asks them again)."""
        rest = _nodes(request.new_parties)[1:]

        async def activate(node: str) -> bool:
            try:
                await run_on_nodes(Activity.RESHARE_ACTIVATE.value, [node], lambda _n: step, ReshareNodeResult,
                                   _patient(request.policy, ERASE_ATTEMPTS))
            except SessionFailedError as failed:  # decided already: record it, the node catches up later
                await db.audit(f"key.{request.operation}_activation", actor=request.requested_by,
                               resource_type="key", resource_id=request.key_id, session_id=request.session_id,
                               status="failure", failure=failed.failure)
                return False
            return True

        activated = await asyncio.gather(*(activate(node) for node in rest))
        return [node for node, ok in zip(rest, activated, strict=True) if not ok]

    async def _erase(self, request: ReshareRequest, step: ReshareStep, total: int) -> list[str]:
        await self._round(total)
        pending: list[str] = []
        for node in _nodes(request.old_holders):
            try:
                await run_on_nodes(Activity.RESHARE_RETIRE.value, [node], lambda _n: step, ReshareNodeResult,
                                   _patient(request.policy, ERASE_ATTEMPTS))
            except SessionFailedError:
                pending.append(node)
        return pending

    async def _fail(self, request: ReshareRequest, failure: SessionFailure) -> NoReturn:
        self._progress.status, self._progress.error = SessionStatus.FAILED, failure
        set_status(SessionStatus.FAILED)
        await db.update_session(request.session_id, status=SessionStatus.FAILED, error=failure, finished=True)
        await db.audit(f"key.{request.operation}", actor=request.requested_by, resource_type="key",
                       resource_id=request.key_id, session_id=request.session_id, status="failure", failure=failure,
                       epoch=request.epoch)
        raise session_failed_error(failure) from None


def phase_two_budget(round_timeout_seconds: float, old_holders: int) -> float:
    """Seconds the commit phase may spend retrying (the first activation, the others at once, each
    erasure in turn): the workflow's execution timeout must cover them, or Temporal would end a decided
    change midway."""
    return round_timeout_seconds * (COMMITTED_ATTEMPTS + ERASE_ATTEMPTS * (1 + old_holders))


def _nodes(parties: Sequence[Party]) -> list[str]:
    return [p.node_id for p in sorted(parties, key=lambda p: p.party_id)]


def _union(dealers: Sequence[Party], new_parties: Sequence[Party]) -> list[Party]:
    by_pid = {p.party_id: p for p in dealers}
    by_pid.update({p.party_id: p for p in new_parties})
    return [by_pid[pid] for pid in sorted(by_pid)]


def _patient(policy: RoundPolicy, attempts: int) -> RoundPolicy:
    return dataclasses.replace(policy, max_attempts=attempts)

