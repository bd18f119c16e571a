"""SignWorkflow: t participants produce one signature over a 32-byte digest.

FROST: with pooled nonce commitments the online part is a single participant round (signature shares);
without, a commitment round comes first. Aggregation (public data only) runs on the coordinator and
verifies every share, so a bad signer is named (identifiable abort). A signer that times out is
replaced by an online alternate once; a signer that cheats ends the session, flags the key, and
is never retried around (SECURITY.md S6). ECDSA (GG18, GG20) runs its rounds through the same
generic round driver (the key protocol's `sign` stages in mpc/protocols.py: GG18 in one 11-round
protocol; GG20 as presign, whose presignature stays sealed on each signer, then online signing in
the same session), with the same failure handling.
"""

from __future__ import annotations

import dataclasses

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import KEY_PROTOCOLS, SPECS, Activity, Family, SessionProtocol, SessionStatus, sign_rounds
    from workflows import coordinator_calls as db
    from workflows.approvals import AwaitsApprovals
    from workflows.driver import SessionFailedError, failure_from, run_on_nodes, session_failed_error
    from workflows.pool import PREPROCESS_ACTIVITY, start_refill
    from workflows.rounds import ProtocolRun, agreed_public_result, drive_protocol
    from workflows.search import set_status
    from workflows.types import (
        AggregateInput,
        ClaimCommitmentsInput,
        ClaimCommitmentsResult,
        FinishKeyInput,
        FrostSignRequest,
        Party,
        PreprocessRequest,
        PreprocessResult,
        Progress,
        ProtocolParams,
        SessionFailure,
        SignRequest,
        SignResult,
        WireMessage,
    )

SIGN_ACTIVITY = Activity.FROST_SIGN.value
REPLACEABLE = ("node_timeout", "node_failed", "nonce_unavailable", "share_unavailable", "vault_unavailable")


@workflow.defn(name="Sign")
class SignWorkflow(AwaitsApprovals):
    def __init__(self) -> None:
        super().__init__()
        self._progress = Progress(session_id="", operation="sign", status=SessionStatus.PENDING, current_round=0,
                                  total_rounds=0)

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, request: SignRequest) -> SignResult:
        if request.approvals_needed > 0:
            request = await self._await_approvals(request)
        ecdsa = KEY_PROTOCOLS[request.protocol].family == Family.ECDSA
        total = sign_rounds(request.protocol) if ecdsa else 2
        self._progress = Progress(request.session_id, "sign", SessionStatus.RUNNING, 0, total)
        set_status(SessionStatus.RUNNING)
        await db.update_session(request.session_id, status=SessionStatus.RUNNING, total_rounds=total, started=True)
        signers, alternates = list(request.signers), list(request.alternates)
        attempt = 0
        while True:
            attempt += 1
            try:
                if ecdsa:
                    signature, used_pool = await self._ecdsa_sign_once(request, signers, attempt)
                else:
                    signature, used_pool = await self._sign_once(request, signers, attempt)
                break
            except SessionFailedError as failed:
                failure = failed.failure
                # A node-local condition (no nonce, no share, timeout): replace the node it happened on.
                stuck = (failure.reported_by or failure.node) if failure.code in REPLACEABLE else None
                if stuck in {s.node_id for s in signers} and alternates:
                    replacement = alternates.pop(0)
                    await db.audit("sign.replace_signer", actor="coordinator", resource_type="key",
                                   resource_id=request.key_id, session_id=request.session_id, status="failure",
                                   failure=failure, replacement=replacement.node_id)
                    signers = [replacement if s.node_id == stuck else s for s in signers]
                    signers.sort(key=lambda p: p.party_id)
                    continue
                await self._fail(request, failure)
                raise session_failed_error(failure) from None
        self._progress.status = SessionStatus.COMPLETED
        set_status(SessionStatus.COMPLETED)
        await db.update_session(request.session_id, status=SessionStatus.COMPLETED, signature=signature, finished=True,
                                participants=[s.node_id for s in signers])
        await db.audit("key.sign", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                       session_id=request.session_id, digest=request.digest, signers=[s.node_id for s in signers],
                       used_pool=used_pool)
        if not ecdsa:
            await start_refill(request.key_id, sorted(request.signers + request.alternates, key=lambda p: p.party_id),
                               request.pool_target, request.policy)
        return SignResult(request.session_id, signature, [s.node_id for s in signers], used_pool)

    async def _await_approvals(self, request: SignRequest) -> SignRequest:
        """Wait in `awaiting_approval` for the policy's quorum; the approvals then travel with the intent."""
        assert request.intent is not None
        outcome = await self._await_approvers(request.session_id, "sign", request.intent, request.approvals_needed,
                                              request.approval_timeout_seconds, total_rounds=0)
        if isinstance(outcome, SessionFailure):
            await self._fail(request, outcome)
            raise session_failed_error(outcome) from None
        return dataclasses.replace(request, intent=outcome)

    async def _set_round(self, request: SignRequest, round_no: int, total: int) -> None:
        self._progress.current_round, self._progress.total_rounds = round_no, total
        await db.update_session(request.session_id, current_round=round_no, total_rounds=total)

    async def _sign_once(self, request: SignRequest, signers: list[Party], attempt: int) -> tuple[str, bool]:
        attempt_id = f"{request.session_id}.{attempt}"
        nodes = [s.node_id for s in signers]
        commitments: list[WireMessage] = []
        if request.use_pool:
            claimed: ClaimCommitmentsResult = await db.call(
                Activity.CLAIM_COMMITMENTS.value, ClaimCommitmentsInput(request.key_id, attempt_id, nodes),
                ClaimCommitmentsResult)
            commitments = claimed.commitments
        used_pool = bool(commitments)
        total = 1 if used_pool else 2
        if not used_pool:
            await self._set_round(request, 1, total)
            made: dict[str, PreprocessResult] = await run_on_nodes(
                PREPROCESS_ACTIVITY, nodes,
                lambda node: PreprocessRequest(request_id=f"{attempt_id}-{node}", key_id=request.key_id, count=1),
                PreprocessResult, request.policy)
            commitments = [made[n].commitments[0] for n in nodes]
        await self._set_round(request, total, total)
        sign_input = FrostSignRequest(
            session_id=attempt_id, key_id=request.key_id, digest=request.digest, signers=signers,
            commitments=commitments, taproot_tweak=request.chain_type == "bitcoin" and request.curve == "secp256k1-tr",
            taproot_merkle_root=request.taproot_merkle_root, intent=request.intent,
        )
        shares: dict[str, WireMessage] = await run_on_nodes(SIGN_ACTIVITY, nodes, lambda _n: sign_input, WireMessage,
                                                            request.policy)
        try:
            signature: str = await db.call(Activity.FROST_AGGREGATE.value, AggregateInput(
                session_id=attempt_id, key_id=request.key_id, digest=request.digest, signers=signers,
                commitments=commitments, shares=[shares[n] for n in nodes], taproot_tweak=sign_input.taproot_tweak,
                taproot_merkle_root=sign_input.taproot_merkle_root), str)
        except (ActivityError, ApplicationError) as err:  # a local activity raises its ApplicationError directly
            raise SessionFailedError(failure_from("coordinator", err)) from None
        return signature, used_pool

    async def _ecdsa_sign_once(self, request: SignRequest, signers: list[Party], attempt: int) -> tuple[str, bool]:
        """GG18 / GG20 over `signers` with the generic round driver; the parties' agreed signature."""
        attempt_id = f"{request.session_id}.{attempt}"
        total = sign_rounds(request.protocol)
        params = ProtocolParams(key_id=request.key_id, curve=request.curve, digest=request.digest,
                                threshold=len(signers))
        done = 0
        public: dict[str, object] = {}
        for stage in KEY_PROTOCOLS[request.protocol].sign:
            protocol, rounds = stage.value, SPECS[stage].rounds

            async def on_round(round_no: int, offset: int = done) -> None:
                await self._set_round(request, offset + round_no, total)

            run = ProtocolRun(protocol=protocol, session_id=f"{attempt_id}.{protocol}",
                              workflow_id=workflow.info().workflow_id, parties=signers,
                              params=dataclasses.replace(params),
                              total_rounds=rounds, policy=request.policy, intent=request.intent)
            public = agreed_public_result(await drive_protocol(run, on_round))
            if stage == SessionProtocol.GG20_PRESIGN:
                params.presig_id = str(public["presig_id"])
            done += rounds
        return str(public["signature"]), False

    async def _fail(self, request: SignRequest, failure: SessionFailure) -> None:
        cheated = failure.code not in REPLACEABLE and failure.node is not None
        if cheated:
            # A signer that sent an invalid share or message: stop using the key until an operator looks.
            # Flagged before the session reads "failed", so a client never sees the failure with the key usable.
            await db.call(Activity.FINISH_KEY.value, FinishKeyInput(request.key_id, "flagged", failure))
        self._progress.status, self._progress.error = SessionStatus.FAILED, failure
        set_status(SessionStatus.FAILED)
        await db.update_session(request.session_id, status=SessionStatus.FAILED, error=failure, finished=True)
        await db.audit("key.sign", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                       session_id=request.session_id, status="failure", failure=failure, flagged=cheated)

