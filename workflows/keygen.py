"""KeygenWorkflow: distributed key generation; no process ever holds the whole key."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import coordinator_calls as db
    from workflows.driver import SessionFailedError, session_failed_error
    from workflows.pool import start_refill
    from workflows.rounds import ProtocolRun, agreed_public_result, drive_protocol
    from workflows.search import set_status
    from workflows.types import FinishKeyInput, KeygenRequest, KeygenResult, KeyRecord, Progress, RecordKeyInput

PROTOCOL_ROUNDS = {"frost-dkg": 3, "gg20-keygen": 4}
"""Rounds of each keygen protocol after the hello (checked against tss in tests)."""
KEYGEN_PROTOCOL = {"frost": "frost-dkg", "gg18": "gg20-keygen", "gg20": "gg20-keygen"}
"""API protocol -> session protocol: GG18 and GG20 keys come from one keygen (same share format)."""


@workflow.defn(name="Keygen")
class KeygenWorkflow:
    def __init__(self) -> None:
        self._progress = Progress(session_id="", operation="keygen", status="pending", current_round=0,
                                  total_rounds=0)

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._progress

    @workflow.run
    async def run(self, request: KeygenRequest) -> KeygenResult:
        protocol = KEYGEN_PROTOCOL.get(request.protocol, f"{request.protocol}-dkg")
        total = PROTOCOL_ROUNDS[protocol]
        self._progress = Progress(request.session_id, "keygen", "running", 0, total)
        set_status("running")
        await db.update_session(request.session_id, status="running", total_rounds=total, started=True)

        async def on_round(round_no: int) -> None:
            self._progress.current_round = round_no
            await db.update_session(request.session_id, current_round=round_no)

        run = ProtocolRun(
            protocol=protocol, session_id=request.session_id, workflow_id=workflow.info().workflow_id,
            parties=request.parties, total_rounds=total, policy=request.policy, intent=request.intent,
            params={"key_id": request.key_id, "curve": request.curve, "threshold": request.threshold, "epoch": 0},
        )
        try:
            outputs = await drive_protocol(run, on_round)
            public = agreed_public_result(outputs)
        except SessionFailedError as failed:
            await db.call("coordinator.finish_key", FinishKeyInput(request.key_id, "failed", failed.failure))
            self._progress.status, self._progress.error = "failed", failed.failure
            set_status("failed")
            await db.update_session(request.session_id, status="failed", error=failed.failure, finished=True)
            await db.audit("key.generate", actor=request.requested_by, resource_type="key",
                           resource_id=request.key_id, session_id=request.session_id, status="failure",
                           failure=failed.failure)
            raise session_failed_error(failed.failure) from None
        record: KeyRecord = await db.call("coordinator.record_key", RecordKeyInput(request.session_id, request.key_id,
                                                                                   public), KeyRecord)
        self._progress.status = "completed"
        set_status("completed")
        await db.update_session(request.session_id, status="completed", finished=True)
        await db.audit("key.generate", actor=request.requested_by, resource_type="key", resource_id=request.key_id,
                       session_id=request.session_id, public_key=record.public_key, curve=request.curve,
                       threshold=request.threshold, participants=[p.node_id for p in request.parties])
        if request.protocol == "frost":  # ECDSA keys have no FROST nonce pool
            await start_refill(request.key_id, request.parties, request.pool_target, request.policy)
        return KeygenResult(record.key_id, record.public_key, record.address)
