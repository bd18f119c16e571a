"""PresignPoolRefillWorkflow: keep GG20 presignatures ready for one signer set of a key, so that a GG20
signature needs only the online round (SECURITY.md N2, N5: each presignature is sealed on its signers,
bound to the key, epoch and signer set, and consumed durably once).

A presign run needs no intent: it makes one-time secrets bound to the pinned signers and signs nothing;
the online round that uses one is authorised by the sign intent like every signature
(activities/participant_rounds.py). The refill runs in the background, one per key and signer set, a
few runs at a time; a failed run (an offline signer, say) ends the refill short and the next sign
starts another.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import SPECS, Activity, SessionProtocol
    from workflows import coordinator_calls as db
    from workflows.driver import SessionFailedError
    from workflows.rounds import ProtocolRun, agreed_public_result, drive_protocol
    from workflows.types import (
        Party,
        PresignPoolInput,
        PresignPoolStatus,
        PresignRefillRequest,
        PresignRefillResult,
        ProtocolParams,
        RoundPolicy,
        StorePresignatureInput,
    )

PRESIGN = SessionProtocol.GG20_PRESIGN.value
PARALLEL_RUNS = 2  # presign runs at a time: each is seconds of Paillier arithmetic on every signer
MAX_RUNS = 64  # per refill workflow, so its history stays small; the next sign starts another
PRESIGN_REFILL_TIMEOUT = timedelta(minutes=30)
# A refill yields to signatures drawing on the pool (a claim younger than DRAWING_WINDOW): it looks again every
# YIELD_POLL, for at most MAX_YIELD in all, and never once the pool is down to a quarter of its target.
YIELDS_PATCH = "presign-refill-yields-v1"
DRAWING_WINDOW = 0.5
YIELD_POLL = timedelta(milliseconds=500)
MAX_YIELD = timedelta(seconds=10)


def presign_pool_workflow_id(key_id: str, node_ids: list[str]) -> str:
    signers = hashlib.sha256(",".join(sorted(node_ids)).encode()).hexdigest()[:16]
    return f"presign-pool-{key_id}-{signers}"


@workflow.defn(name="PresignPoolRefill")
class PresignPoolRefillWorkflow:
    @workflow.run
    async def run(self, request: PresignRefillRequest) -> PresignRefillResult:
        """Top the pool up to its target, reading its level again after each few runs: signatures may
        take presignatures meanwhile, and the refill goes on until the pool is full (or MAX_RUNS)."""
        nodes = [p.node_id for p in request.signers]
        result = PresignRefillResult()
        run_no = 0
        yields = workflow.patched(YIELDS_PATCH)
        self._yield_left = MAX_YIELD
        while run_no < MAX_RUNS and result.failure is None:
            pool = PresignPoolInput(request.key_id, nodes)
            level: int = await self._level_when_quiet(request, pool) if yields else await db.call(
                Activity.PRESIGN_LEVEL.value, pool, int)
            batch = range(run_no, run_no + min(PARALLEL_RUNS, request.target - level, MAX_RUNS - run_no))
            if not batch:
                break
            run_no += len(batch)
            outcomes = await asyncio.gather(*(self._presign(request, i) for i in batch), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, SessionFailedError):
                    result.failure = outcome.failure
                elif isinstance(outcome, BaseException):
                    raise outcome
                else:
                    result.added += outcome
        return result

    async def _level_when_quiet(self, request: PresignRefillRequest, pool: PresignPoolInput) -> int:
        """The pool's level once no signature is drawing on it.

        Why: a refill starts when a claim leaves the pool at half its target, which in a burst is while the
        burst goes on. Each presignature is hundreds of milliseconds of Paillier arithmetic on every signer and
        seven rounds through Temporal and the coordinator, on the cores the burst's signatures need, and it adds
        one presignature where the burst takes dozens; so it waits until the burst is over (bench/README.md has
        the figures). It stops waiting when the pool is down to a quarter of its target, where the next
        signatures would otherwise have to presign for themselves, and after MAX_YIELD in all, so a steady
        stream of signatures cannot starve it.
        """
        floor = request.target // 4
        while True:
            status: PresignPoolStatus = await db.call(Activity.PRESIGN_POOL_STATUS.value, pool, PresignPoolStatus)
            drawing = status.last_claim_age is not None and status.last_claim_age < DRAWING_WINDOW
            if not drawing or not floor < status.level < request.target or self._yield_left < YIELD_POLL:
                return status.level
            self._yield_left -= YIELD_POLL
            await workflow.sleep(YIELD_POLL)

    @staticmethod
    async def _presign(request: PresignRefillRequest, index: int) -> int:
        info = workflow.info()
        run = ProtocolRun(protocol=PRESIGN, session_id=f"{info.workflow_id}.{info.run_id}.{index}",
                          workflow_id=info.workflow_id, parties=request.signers,
                          params=ProtocolParams(key_id=request.key_id, curve=request.curve,
                                                threshold=len(request.signers)),
                          total_rounds=SPECS[PRESIGN].rounds, policy=request.policy, intent=None)
        public = agreed_public_result(await drive_protocol(run))  # the epoch: the signers' share epoch
        shares_public = {"R": public["R"], "Rbar": public["Rbar"], "S": public["S"]}  # combines the online round
        stored: int = await db.call(Activity.STORE_PRESIGNATURE.value, StorePresignatureInput(
            request.key_id, [p.node_id for p in request.signers], str(public["presig_id"]), str(public["R"]),
            int(public["epoch"]), shares_public), int)
        return stored


async def start_presign_refill(key_id: str, curve: str, signers: list[Party], target: int,
                               policy: RoundPolicy) -> None:
    """Start a refill in the background (it outlives the caller); one at a time per key and signer set."""
    if target <= 0:
        return
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            PresignPoolRefillWorkflow.run, presign_refill_request(key_id, curve, signers, target, policy),
            id=presign_pool_workflow_id(key_id, [p.node_id for p in signers]),
            parent_close_policy=ParentClosePolicy.ABANDON, execution_timeout=PRESIGN_REFILL_TIMEOUT,
        )


def presign_refill_request(key_id: str, curve: str, signers: list[Party], target: int,
                           policy: RoundPolicy) -> PresignRefillRequest:
    return PresignRefillRequest(key_id, curve, sorted(signers, key=lambda p: p.party_id), target, policy)
