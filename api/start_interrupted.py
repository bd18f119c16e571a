"""Sessions whose workflow never started: the API process died between committing a request's rows and
starting its workflow (api/orchestration.py `commit_then_start`).

Without this, such a session stayed `pending` (or, for a sign session whose pool claim the API made in that
transaction, `running`) for ever, and a client's retry with the same Idempotency-Key was
answered with it (found by scripts/chaos: kill -9 of the API under load). A session still so
START_GRACE_SECONDS after it was recorded, for which Temporal knows no workflow under its id, ends `failed` with
the code `start_interrupted` (nothing ran, so nothing was signed and no nonce was used); the client retries with a
new Idempotency-Key. The grace is longer than the start call's own deadline (START_RPC_TIMEOUT), so a start still
in flight is never taken for an interrupted one. Checked whenever such a session is read (GET, or a repeated
request with the same Idempotency-Key), so no background sweeper is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from mpc.db.models import AuditLog, Key, SigningSession

START_RPC_TIMEOUT = timedelta(seconds=10)
START_GRACE_SECONDS = 30.0
CODE = "start_interrupted"


async def settle_if_never_started(db: AsyncSession, temporal: Callable[[], Awaitable[Client]],
                                  row: SigningSession) -> bool:
    """End `row` as `start_interrupted` when its workflow never started; True when it did so."""
    now = datetime.now(UTC)
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    # A sign session whose pool claim the API made is recorded running before its workflow starts.
    unstarted = row.status == "pending" or (row.status == "running" and row.operation == "sign")
    if not unstarted or now - created < timedelta(seconds=START_GRACE_SECONDS):
        return False
    try:
        client = await temporal()
        await client.get_workflow_handle(row.workflow_id).describe()
        return False  # it exists: queued or running, its own activities move the row on
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            return False  # Temporal unreachable: no verdict now, the next read asks again
    except Exception:
        return False
    row.status = "failed"
    row.error = {"code": CODE, "message": "the request was recorded but its workflow was never started (the API "
                                         "stopped in between); nothing was signed: retry with a new Idempotency-Key",
                 "node": None, "nodes": []}
    row.completed_at = now
    row.duration_ms = int((now - created).total_seconds() * 1000)
    if row.operation == "keygen" and row.key_id:
        with contextlib.suppress(Exception):
            key = await db.get(Key, row.key_id)
            if key is not None and key.status == "pending":
                key.status = "failed"
    db.add(AuditLog(actor="api", action=f"{row.operation}.start_interrupted", resource_type="session",
                    resource_id=row.session_id, session_id=row.session_id, status="failure",
                    details={"error_code": CODE, "workflow_id": row.workflow_id}))
    await db.commit()
    return True
