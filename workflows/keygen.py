"""KeygenWorkflow: distributed key generation; no process ever holds the whole key."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from mpc.protocols import KEY_PROTOCOLS, SPECS, Activity, Family, SessionStatus
    from workflows import coordinator_calls as db
    from workflows.driver import SessionFailedError, session_failed_error
    from workflows.pool import start_refill
    from workflows.presign_pool import start_presign_refill
    from workflows.rounds import ProtocolRun, agreed_public_result, drive_protocol
    from workflows.search import set_status
    from workflows.types import (
        FinishKeyInput,
        KeygenRequest,
        KeygenResult,
        KeyRecord,
        Progress,
        ProtocolParams,
        RecordKeyInput,
    )


@workflow.defn(name="Keygen")
class KeygenWorkflow:
    def __init__(self) -> None:
        self._progress = Progress(session_id="", operation="keygen", status=SessionStatus.PENDING, current_round=0,
                                  total_rounds=0)

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, request: KeygenRequest) -> KeygenResult:
        key_protocol = KEY_PROTOCOLS[request.protocol]
        protocol = key_protocol.keygen.value
        total = SPECS[protocol].rounds
        self._progress = Progress(request.session_id, "keygen", SessionStatus.RUNNING, 0, total)
        set_status(SessionStatus.RUNNING)
        await db.update_session(request.session_id, status=SessionStatus.RUNNING, total_rounds=total, started=True)

        async def on_round(round_no: int) -> None:
            self._progress.current_round = round_no
            await db.update_session(request.session_id, current_round=round_no)

        run = ProtocolRun(
            protocol=protocol, session_id=request.session_id, workflow_id=workflow.info().workflow_id,
            parties=request.parties, total_rounds=total, policy=request.policy, intent=request.intent,
            params=ProtocolParams(key_id=request.key_id, curve=request.curve, threshold=request.threshold, epoch=0),
        )
        try:
            outputs = await drive_protocol(run, on_round)
            public = agreed_public_result(outputs)
        except SessionFailedError as failed:
            await db.call(Activity.FINISH_KEY.value, FinishKeyInput(request.key_id, "failed", failed.failure))
            self._progress.status, self._progress.error = SessionStatus.FAILED, failed.failure
            set_status(SessionStatus.FAILED)
            await db.update_session(request.session_id, status=SessionStatus.FAILED, error=failed.failure,
                                    finished=True)
            await db.audit("key.generate", actor=request.requested_by, resource_type="key",
                           resource_id=request.key_id, session_id=request.session_id, status="failure",
                           failure=failed.failure)
            raise session_failed_error(failed.failure) from None
        record: KeyRecord = await db.call(Activity.RECORD_KEY.value, RecordKeyInput(request.session_id, request.key_id,
                                                                                   public), KeyRecord)
        self._progress.status = SessionStatus.COMPLETED
        set_status(SessionStatus.COMPLETED)
        await db.update_session(request.session_id, status=SessionStatus.COMPLETED, finished=True)
        await db.audit("key.generate", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                       session_id=request.session_id, public_key=record.public_key, curve=request.curve,
                       threshold=request.threshold, participants=[p.node_id for p in request.parties])
        if key_protocol.family == Family.FROST:  # ECDSA keys have no FROST nonce pool
            await start_refill(request.key_id, request.parties, request.pool_target, request.policy)
        elif request.protocol == "gg20" and request.presign_pool_target > 0:
            # The signers the API picks when every holder is online: the first t by party id.
            first = sorted(request.parties, key=lambda p: p.party_id)[: request.threshold]
            await start_presign_refill(request.key_id, request.curve, first, request.presign_pool_target,
                                       request.policy)
        return KeygenResult(record.key_id, record.public_key, record.address)
