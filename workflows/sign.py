"""SignWorkflow: t participants produce one signature over a 32-byte digest.

FROST: with pooled nonce commitments the online part is a single participant round (signature shares);
without, a commitment round comes first. Aggregation (public data only) runs on the coordinator and
verifies every share, so a bad signer is named (identifiable abort). A signer that times out is
replaced by an online alternate once; a signer that cheats ends the session, flags the key, and
is never retried around (SECURITY.md S6). ECDSA (GG18, GG20) runs its rounds through the same
generic round driver (the key protocol's `sign` stages in mpc/protocols.py: GG18 in one 11-round
protocol; GG20 as presign, whose presignature stays sealed on each signer, then online signing in
the same session), with the same failure handling. GG20 with a presignature pool signs from a pooled
presignature in one online round; a GG20 batch claims one per digest and signs them all in that round.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import KEY_PROTOCOLS, SPECS, Activity, Family, SessionProtocol, SessionStatus, sign_rounds
    from workflows import coordinator_calls as db
    from workflows.approvals import AwaitsApprovals
    from workflows.driver import SessionFailedError, failure_from, run_on_nodes, session_failed_error
    from workflows.pool import PREPROCESS_ACTIVITY, start_refill
    from workflows.presign_pool import presign_refill_request, start_presign_refill
    from workflows.rounds import ProtocolRun, agreed_public_result, drive_protocol
    from workflows.search import set_status
    from workflows.types import (
        AggregateBatchInput,
        AggregateInput,
        ClaimCommitmentsInput,
        ClaimCommitmentsResult,
        ClaimPresignatureInput,
        ClaimPresignatureResult,
        FinishKeyInput,
        FrostBatchShares,
        FrostBatchSignRequest,
        FrostSignRequest,
        Gg20BatchClaim,
        Gg20CombineInput,
        Gg20OnlineBatchRequest,
        Gg20OnlineBatchShares,
        Gg20OnlineItem,
        Gg20OnlineSignRequest,
        Gg20SignBatchBeginInput,
        Gg20SignBatchFinishInput,
        Gg20SignBeginInput,
        Gg20SignFinishInput,
        Party,
        PoolRefillRequest,
        PreprocessRequest,
        PreprocessResult,
        Progress,
        ProtocolParams,
        SessionFailure,
        SignBeginInput,
        SignFinishInput,
        SignFinishResult,
        SignItem,
        SignRequest,
        SignResult,
        WireMessage,
    )

SIGN_ACTIVITY = Activity.FROST_SIGN.value
ONE_TRANSACTION_PATCH = "frost-sign-one-transaction-v1"
REFILL_IN_FINISH_PATCH = "frost-refill-started-by-finish-v1"
GG20_ONE_TRANSACTION_PATCH = "gg20-pool-one-transaction-v1"
GG20_BATCH_PATCH = "gg20-pool-batch-v1"
BATCH_DIGESTS_PER_TIMEOUT = 64  # a batch round may take ROUND_TIMEOUT once more per so many digests
REPLACEABLE = ("node_timeout", "node_failed", "nonce_unavailable", "share_unavailable", "vault_unavailable",
               "presignature_unavailable")


@workflow.defn(name="Sign")
class SignWorkflow(AwaitsApprovals):
    def __init__(self) -> None:
        super().__init__()
        self._progress = Progress(session_id="", operation="sign", status=SessionStatus.PENDING, current_round=0,
                                  total_rounds=0)
        self._one_tx = False  # set in run: FROST's begin and finish steps are one transaction each
        self._pool_left = -1  # commitments the claim left (the fewest of any signer); -1: not known
        self._ecdsa_done: dict[int, str] = {}  # an ECDSA batch: the signatures made so far, by digest index
        self._presigs_left = -1  # GG20: presignatures the last pool claim left for its signer set (-1: not known)
        self._presig_used = False  # GG20: a run of this session signed from a pooled presignature
        self._gg20_one_tx = False  # set in run: a GG20 signature from the pool starts and ends in one step each
        self._finished_in_tx = False  # the finishing step recorded the completed session and its audit entry
        self._gg20_batch = False  # set in run: a GG20 batch signs its pooled digests in one online round

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, request: SignRequest) -> SignResult:
        if request.approvals_needed > 0:
            request = await self._await_approvals(request)
        ecdsa = KEY_PROTOCOLS[request.protocol].family == Family.ECDSA
        total = sign_rounds(request.protocol) * max(1, len(request.digests)) if ecdsa else 2
        self._progress = Progress(request.session_id, "sign", SessionStatus.RUNNING, 0, total)
        set_status(SessionStatus.RUNNING)
        # FROST: one coordinator transaction to start (session running + pool claim) and one to end (aggregate,
        # verify, session completed, audit); histories recorded before this change replay the older steps.
        self._one_tx = not ecdsa and workflow.patched(ONE_TRANSACTION_PATCH)
        # The finishing transaction starts a low pool's refill in the background, instead of this workflow
        # starting it as a child after the signature is verified (one Temporal round trip less per refill).
        self._refill_in_finish = self._one_tx and workflow.patched(REFILL_IN_FINISH_PATCH)
        # GG20 with a presignature pool, one digest of the key itself: the same, one coordinator transaction to
        # start (session running + claim) and one to end (combine, verify, completed, audit, refill started).
        self._gg20_one_tx = request.pooled_gg20_digest() and workflow.patched(GG20_ONE_TRANSACTION_PATCH)
        # GG20 with a presignature pool, a batch of raw digests: one presignature per digest claimed in one
        # transaction, one online round for all of them (one activity per signer), one finishing transaction.
        self._gg20_batch = request.pooled_gg20_batch() and workflow.patched(GG20_BATCH_PATCH)
        if not self._one_tx and not self._gg20_one_tx and not self._gg20_batch:
            await db.update_session(request.session_id, status=SessionStatus.RUNNING, total_rounds=total,
                                    started=True)
        signers, alternates = list(request.signers), list(request.alternates)
        signatures: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            try:
                if self._gg20_batch:
                    signatures, used_pool = await self._gg20_batch_once(request, signers, attempt)
                    signature = ""
                elif ecdsa and request.digests:
                    signatures, used_pool = await self._ecdsa_batch_once(request, signers, attempt)
                    signature = ""
                elif ecdsa:
                    signature, used_pool = await self._ecdsa_sign_once(request, signers, attempt)
                elif request.digests:
                    signatures, used_pool = await self._sign_batch_once(request, signers, attempt)
                    signature = ""
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
        if not self._one_tx and not self._finished_in_tx:  # recorded by the finishing transaction otherwise
            signed: dict[str, Any] = {"digests": request.digests} if request.digests else {"digest": request.digest}
            if request.digests:
                await db.update_session(request.session_id, status=SessionStatus.COMPLETED, signatures=signatures,
                                        finished=True, participants=[s.node_id for s in signers])
            else:
                await db.update_session(request.session_id, status=SessionStatus.COMPLETED, signature=signature,
                                        finished=True, participants=[s.node_id for s in signers])
            await db.audit("key.sign", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                           session_id=request.session_id, **signed, signers=[s.node_id for s in signers],
                           used_pool=used_pool)
        # The pool is refilled when it ran low (half its target, or unknown), not after every signature:
        # a refill is a workflow of its own, and Temporal's work per signature is what limits throughput.
        if not ecdsa and not self._refill_in_finish and (refill := self._refill(request)) is not None:
            await start_refill(refill.key_id, refill.parties, refill.target, refill.policy)
        # GG20: refilled when a claim left the signer set's pool at half its target or less (no claim: no refill).
        if request.presign_pool() and not self._finished_in_tx and self._presigs_low(request):
            await start_presign_refill(request.key_id, request.curve, request.signers, request.presign_pool_target,
                                       request.policy)
        return SignResult(request.session_id, signature, [s.node_id for s in signers], used_pool,
                          signatures if request.digests else [])

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
        attempt_id = request.attempt_id(attempt)
        nodes = [s.node_id for s in signers]
        commitments = await self._claim(request, ClaimCommitmentsInput(request.key_id, attempt_id, nodes))
        used_pool = bool(commitments)
        total = 1 if used_pool else 2
        if not used_pool:
            if not self._one_tx:  # else the begin step recorded round 1 of 2
                await self._set_round(request, 1, total)
            made: dict[str, PreprocessResult] = await run_on_nodes(
                PREPROCESS_ACTIVITY, nodes,
                lambda node: PreprocessRequest(request_id=f"{attempt_id}-{node}", key_id=request.key_id, count=1),
                PreprocessResult, request.policy)
            commitments = [made[n].commitments[0] for n in nodes]
        if not (self._one_tx and used_pool):  # a pooled one-round session: the begin step recorded it
            await self._set_round(request, total, total)
        sign_input = FrostSignRequest(
            session_id=attempt_id, key_id=request.key_id, digest=request.digest, signers=signers,
            commitments=commitments, taproot_tweak=request.chain_type == "bitcoin" and request.curve == "secp256k1-tr",
            taproot_merkle_root=request.taproot_merkle_root, intent=request.intent,
            derivation_path=request.derivation_path,
        )
        shares: dict[str, WireMessage] = await run_on_nodes(SIGN_ACTIVITY, nodes, lambda _n: sign_input, WireMessage,
                                                            request.policy)
        aggregate = AggregateInput(
            session_id=attempt_id, key_id=request.key_id, digest=request.digest, signers=signers,
            commitments=commitments, shares=[shares[n] for n in nodes], taproot_tweak=sign_input.taproot_tweak,
            taproot_merkle_root=sign_input.taproot_merkle_root, derivation_path=request.derivation_path)
        try:
            if self._one_tx:
                finished = await self._finish(request, SignFinishInput(
                    request.session_id, request.requested_by, nodes, used_pool, single=aggregate))
                return finished.signature, used_pool
            signature: str = await db.call(Activity.FROST_AGGREGATE.value, aggregate, str)
        except (ActivityError, ApplicationError) as err:  # a local activity raises its ApplicationError directly
            raise SessionFailedError(failure_from("coordinator", err)) from None
        return signature, used_pool

    async def _claim(self, request: SignRequest, claim: ClaimCommitmentsInput) -> list[WireMessage]:
        """Pooled commitments for every signer and digest, or [] (then a commitment round runs first)."""
        if self._one_tx:
            begun: ClaimCommitmentsResult = request.claimed if request.claimed and request.first_attempt(
                claim.session_id) else await db.call(
                Activity.FROST_SIGN_BEGIN.value, SignBeginInput(request.session_id, claim, request.use_pool,
                                                                request.item_sessions), ClaimCommitmentsResult)
            self._pool_left = begun.remaining
            total = 1 if begun.commitments else 2
            self._progress.current_round, self._progress.total_rounds = (total, total) if begun.commitments else (
                1, total)
            return begun.commitments
        if not request.use_pool:
            return []
        claimed: ClaimCommitmentsResult = await db.call(Activity.CLAIM_COMMITMENTS.value, claim,
                                                        ClaimCommitmentsResult)
        self._pool_left = claimed.remaining
        return claimed.commitments

    def _refill(self, request: SignRequest) -> PoolRefillRequest | None:
        """The refill to start when the claim left the pool at half its target or less (or unknown)."""
        if self._pool_left >= 0 and self._pool_left > request.pool_target // 2:
            return None
        return PoolRefillRequest(request.key_id, sorted(request.signers + request.alternates,
                                                        key=lambda p: p.party_id), request.pool_target, request.policy)

    async def _finish(self, request: SignRequest, finish: SignFinishInput) -> SignFinishResult:
        finish = dataclasses.replace(finish, item_sessions=list(request.item_sessions))
        if self._refill_in_finish:
            finish = dataclasses.replace(finish, refill=self._refill(request))
        result: SignFinishResult = await db.call(Activity.FROST_SIGN_FINISH.value, finish, SignFinishResult)
        return result

    async def _sign_batch_once(self, request: SignRequest, signers: list[Party], attempt: int
                               ) -> tuple[list[str], bool]:
        """A batch: one nonce per digest and signer, from the pool when it holds enough for every digest
        (one round), else made in a commitment round first; one share round signs every digest."""
        attempt_id = request.attempt_id(attempt)
        nodes, count = [s.node_id for s in signers], len(request.digests)
        # Each round does per-digest work (a nonce made or consumed, a share, envelopes): more time per round.
        policy = dataclasses.replace(request.policy, round_timeout_seconds=request.policy.round_timeout_seconds
                                     * (1 + count / BATCH_DIGESTS_PER_TIMEOUT))
        # digest-major: for each digest, one per signer
        commitments = await self._claim(request, ClaimCommitmentsInput(request.key_id, attempt_id, nodes, count))
        used_pool = bool(commitments)
        total = 1 if used_pool else 2
        if not used_pool:
            if not self._one_tx:  # else the begin step recorded round 1 of 2
                await self._set_round(request, 1, total)
            made: dict[str, PreprocessResult] = await run_on_nodes(
                PREPROCESS_ACTIVITY, nodes,
                lambda node: PreprocessRequest(request_id=f"{attempt_id}-{node}", key_id=request.key_id, count=count),
                PreprocessResult, policy)
            commitments = [made[n].commitments[i] for i in range(count) for n in nodes]
        if not (self._one_tx and used_pool):  # a pooled one-round session: the begin step recorded it
            await self._set_round(request, total, total)
        width = len(nodes)
        items = [SignItem(digest, commitments[i * width:(i + 1) * width], request.item_root(i), request.item_path(i))
                 for i, digest in enumerate(request.digests)]
        tweak = request.chain_type == "bitcoin" and request.curve == "secp256k1-tr"
        sign_input = FrostBatchSignRequest(session_id=attempt_id, key_id=request.key_id, signers=signers, items=items,
                                           taproot_tweak=tweak, taproot_merkle_root=request.taproot_merkle_root,
                                           intent=request.intent)
        shares: dict[str, FrostBatchShares] = await run_on_nodes(
            Activity.FROST_SIGN_BATCH.value, nodes, lambda _n: sign_input, FrostBatchShares, policy)
        for node in nodes:
            if len(shares[node].shares) != count:
                raise SessionFailedError(SessionFailure("malformed_share", f"{node} returned "
                                                        f"{len(shares[node].shares)} shares for {count} digests",
                                                        node=node, nodes=[node]))
        aggregate = AggregateBatchInput(
            session_id=attempt_id, key_id=request.key_id, signers=signers, items=items,
            shares=[[shares[n].shares[i] for n in nodes] for i in range(count)], taproot_tweak=tweak,
            taproot_merkle_root=request.taproot_merkle_root)
        try:
            if self._one_tx:
                finished = await self._finish(request, SignFinishInput(
                    request.session_id, request.requested_by, nodes, used_pool, batch=aggregate))
                return finished.signatures, used_pool
            signatures: list[str] = await db.call(Activity.FROST_AGGREGATE_BATCH.value, aggregate, list[str])
        except (ActivityError, ApplicationError) as err:
            raise SessionFailedError(failure_from("coordinator", err)) from None
        return signatures, used_pool

    async def _ecdsa_batch_once(self, request: SignRequest, signers: list[Party], attempt: int
                                ) -> tuple[list[str], bool]:
        """An ECDSA batch: one GG18 / GG20 signing run per digest (one presignature each), one after another,
        each under the batch's one intent, which every node checks the run's digest and index against.
        Signatures already made survive a signer replacement: a retry signs only the digests left."""
        for index, digest in enumerate(request.digests):
            if index in self._ecdsa_done:
                continue
            signature, _ = await self._ecdsa_sign_once(request, signers, attempt, batch_index=index, digest=digest,
                                                       derivation_path=request.item_path(index))
            self._ecdsa_done[index] = signature
        return [self._ecdsa_done[i] for i in range(len(request.digests))], self._presig_used

    async def _ecdsa_sign_once(self, request: SignRequest, signers: list[Party], attempt: int, *,
                               batch_index: int | None = None, digest: str | None = None,
                               derivation_path: str | None = None) -> tuple[str, bool]:
        """GG18 / GG20 over `signers` with the generic round driver; the parties' agreed signature. A GG20
        signature (no child path) first claims a pooled presignature of exactly these signers: then only its
        online round runs (`_gg20_online`); with none, presign and online sign run here, in the session."""
        attempt_id = request.attempt_id(attempt)
        rounds_each = sign_rounds(request.protocol)
        total = rounds_each
        if batch_index is None:
            digest, derivation_path = request.digest, request.derivation_path
        else:
            attempt_id, total = f"{attempt_id}.{batch_index}", rounds_each * len(request.digests)
        params = ProtocolParams(key_id=request.key_id, curve=request.curve, digest=digest,
                                threshold=len(signers), derivation_path=derivation_path, batch_index=batch_index)
        done = rounds_each * (batch_index or 0)
        public: dict[str, object] = {}
        if request.presign_pool() and derivation_path is None:
            # A presignature made ahead for exactly these signers: only the online round runs.
            claim = ClaimPresignatureInput(request.key_id, [s.node_id for s in signers], attempt_id)
            if self._gg20_one_tx and request.claimed_presignature and request.first_attempt(attempt_id):
                claimed = request.claimed_presignature  # the API claimed it and set the session running
            else:
                claimed = await (
                    db.call(Activity.GG20_SIGN_BEGIN.value, Gg20SignBeginInput(request.session_id, claim, rounds_each),
                            ClaimPresignatureResult) if self._gg20_one_tx
                    else db.call(Activity.CLAIM_PRESIGNATURE.value, claim, ClaimPresignatureResult))
            self._presigs_left = claimed.remaining
            if claimed.presig_id is not None:
                self._presig_used = True
                round_no, of = (1, 1) if batch_index is None else (done + rounds_each, total)
                if self._gg20_one_tx:  # the begin step recorded the round
                    self._progress.current_round, self._progress.total_rounds = round_no, of
                else:
                    await self._set_round(request, round_no, of)
                online = Gg20OnlineSignRequest(attempt_id, request.key_id, digest or "", claimed.presig_id, signers,
                                               request.intent, batch_index)
                return await self._gg20_online(request, online), True
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

    async def _gg20_online(self, request: SignRequest, online: Gg20OnlineSignRequest) -> str:
        """One hand-off per signer (each consumes its presignature and answers a signed s_i), then the
        coordinator combines from the pool's public record, naming a signer whose s_i is wrong."""
        nodes = [s.node_id for s in online.signers]
        shares: dict[str, WireMessage] = await run_on_nodes(Activity.GG20_SIGN_ONLINE.value, nodes,
                                                            lambda _n: online, WireMessage, request.policy)
        combine = Gg20CombineInput(online.session_id, online.key_id, online.digest, online.presig_id,
                                   online.signers, [shares[n] for n in nodes])
        try:
            if self._gg20_one_tx:
                refill = presign_refill_request(request.key_id, request.curve, request.signers,
                                                request.presign_pool_target, request.policy
                                                ) if self._presigs_low(request) else None
                finished: str = await db.call(Activity.GG20_SIGN_FINISH.value, Gg20SignFinishInput(
                    request.session_id, combine, request.requested_by, refill), str)
                self._finished_in_tx = True
                return finished
            signature: str = await db.call(Activity.GG20_COMBINE.value, combine, str)
        except (ActivityError, ApplicationError) as err:
            raise SessionFailedError(failure_from("coordinator", err)) from None
        return signature

    async def _gg20_batch_once(self, request: SignRequest, signers: list[Party], attempt: int
                               ) -> tuple[list[str], bool]:
        """A GG20 batch from the pool: one presignature per digest claimed in one step (the API's claim for
        the first attempt), one online round for every pooled digest, a digest the pool could not serve
        presigned and signed in the session; then one finishing step combines, verifies and records all.
        Signatures made in the session survive a signer replacement; pooled ones are combined at the end."""
        attempt_id = request.attempt_id(attempt)
        nodes = [s.node_id for s in signers]
        pending = [i for i in range(len(request.digests)) if i not in self._ecdsa_done]
        claim_ids = [f"{attempt_id}.{i}" for i in pending]
        claimed = request.claimed_presignatures
        if claimed is None or not request.first_attempt(attempt_id) or len(claimed.presig_ids) != len(claim_ids):
            claimed = await db.call(Activity.GG20_SIGN_BATCH_BEGIN.value, Gg20SignBatchBeginInput(
                request.session_id, request.key_id, nodes, claim_ids, sign_rounds(request.protocol),
                list(request.item_sessions)), Gg20BatchClaim)
        self._presigs_left = claimed.remaining
        pooled = [Gg20OnlineItem(i, request.digests[i], presig_id)
                  for i, presig_id in zip(pending, claimed.presig_ids, strict=True) if presig_id]
        self._progress.current_round = 1  # as the begin step (or the API's claim) recorded it
        self._progress.total_rounds = claimed.total_rounds(sign_rounds(request.protocol))
        combines: list[Gg20CombineInput] = []
        if pooled:
            self._presig_used = True
            policy = dataclasses.replace(request.policy, round_timeout_seconds=request.policy.round_timeout_seconds
                                         * (1 + len(pooled) / BATCH_DIGESTS_PER_TIMEOUT))
            online = Gg20OnlineBatchRequest(attempt_id, request.key_id, pooled, signers, request.intent)
            shares: dict[str, Gg20OnlineBatchShares] = await run_on_nodes(
                Activity.GG20_SIGN_ONLINE_BATCH.value, nodes, lambda _n: online, Gg20OnlineBatchShares, policy)
            for node in nodes:
                if len(shares[node].shares) != len(pooled):
                    raise SessionFailedError(SessionFailure("malformed_share", f"{node} returned "
                                                            f"{len(shares[node].shares)} shares for {len(pooled)} "
                                                            "digests", node=node, nodes=[node]))
            combines = [Gg20CombineInput(f"{attempt_id}.{item.index}", request.key_id, item.digest, item.presig_id,
                                         signers, [shares[n].shares[k] for n in nodes])
                        for k, item in enumerate(pooled)]
        served = {item.index for item in pooled}
        for index in pending:
            if index not in served:  # the pool ran out: presign and sign this digest in the session
                signature, _ = await self._ecdsa_sign_once(request, signers, attempt, batch_index=index,
                                                           digest=request.digests[index])
                self._ecdsa_done[index] = signature
        refill = presign_refill_request(request.key_id, request.curve, request.signers, request.presign_pool_target,
                                        request.policy) if self._presigs_low(request) else None
        try:
            signatures: list[str] = await db.call(Activity.GG20_SIGN_BATCH_FINISH.value, Gg20SignBatchFinishInput(
                request.session_id, request.key_id, request.requested_by, nodes, list(request.digests), combines,
                {str(i): sig for i, sig in self._ecdsa_done.items()}, list(request.item_sessions), refill), list[str])
        except (ActivityError, ApplicationError) as err:
            raise SessionFailedError(failure_from("coordinator", err)) from None
        self._finished_in_tx = True
        return signatures, self._presig_used

    def _presigs_low(self, request: SignRequest) -> bool:
        """The last claim left this signer set's pool at half its target or less (no claim: not known)."""
        return 0 <= self._presigs_left <= request.presign_pool_target // 2

    async def _fail(self, request: SignRequest, failure: SessionFailure) -> None:
        cheated = failure.code not in REPLACEABLE and failure.node is not None
        if cheated:
            # A signer that sent an invalid share or message: stop using the key until an operator looks.
            # Flagged before the session reads "failed", so a client never sees the failure with the key usable.
            await db.call(Activity.FINISH_KEY.value, FinishKeyInput(request.key_id, "flagged", failure))
        self._progress.status, self._progress.error = SessionStatus.FAILED, failure
        set_status(SessionStatus.FAILED)
        for session_id in request.sessions():  # coalesced requests fail together, each with the reason
            await db.update_session(session_id, status=SessionStatus.FAILED, error=failure, finished=True)
            await db.audit("key.sign", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                           session_id=session_id, status="failure", failure=failure, flagged=cheated)

