"""A session recorded by an API that died before it started the workflow (api/start_interrupted.py).

The rows are written exactly as `start_sign` commits them before it calls Temporal (the session row and the
accepted audit entry with the request's fingerprint, under the workflow id the Idempotency-Key maps to), and
no workflow is started: what a kill -9 of the API between the two steps leaves behind.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from api import idempotency
from api.auth import authenticate
from api.orchestration import workflow_id_for
from api.schemas import SignCreate
from mpc.db import AuditLog, SigningSession, create_engine, session_factory
from tests.integration.helpers import create_key
from tests.integration.test_safety import stack_db_url
from tests.services import _run_coroutine
from tests.stack import Stack


def _orphan(stack: Stack, key_id: str, digest: str, *, idempotency_key: str | None, age: float,
            status: str = "pending") -> str:
    """Commit a pending sign session with no workflow, `age` seconds old; returns its id. `running`: as the
    API records one whose pool claim it made (api/orchestration.py `claim_first_attempt`)."""
    async def write() -> str:
        engine = create_engine(stack_db_url(stack), pool_size=1)
        try:
            async with session_factory(engine)() as db:
                principal = await authenticate(db, stack.admin_token)
                assert principal is not None
                session_id = str(uuid.uuid4())
                workflow_id = workflow_id_for("sign", principal, idempotency_key, session_id, scope=key_id)
                body = SignCreate(digest=digest)
                db.add(SigningSession(session_id=session_id, key_id=key_id, workflow_id=workflow_id, operation="sign",
                                      protocol="frost", status=status, participants=["p1", "p2"],
                                      message_hash=digest, created_at=datetime.now(UTC) - timedelta(seconds=age)))
                db.add(AuditLog(actor=principal.name, action="key.sign_request", resource_type="key",
                                resource_id=key_id, session_id=session_id, status="accepted",
                                details={"digest": digest, idempotency.FINGERPRINT: idempotency.request_fingerprint(
                                    body)}))
                await db.commit()
                return session_id
        finally:
            await engine.dispose()

    return str(_run_coroutine(write()))


def _age(stack: Stack, session_id: str, seconds: float) -> None:
    async def write() -> None:
        engine = create_engine(stack_db_url(stack), pool_size=1)
        try:
            async with session_factory(engine)() as db:
                row = await db.get(SigningSession, session_id)
                assert row is not None
                row.created_at = datetime.now(UTC) - timedelta(seconds=seconds)
                await db.commit()
        finally:
            await engine.dispose()

    _run_coroutine(write())


def test_a_session_whose_workflow_never_started_ends_start_interrupted(stack: Stack) -> None:
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"])
        digest = hashlib.sha256(b"the API died before the start").hexdigest()
        idem = f"interrupted-{uuid.uuid4()}"
        orphan = _orphan(stack, key["key_id"], digest, idempotency_key=idem, age=120)

        # The client's retry (same Idempotency-Key, same body) gets that session, now ended with a named cause.
        retried = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": digest},
                           headers={"Idempotency-Key": idem})
        assert retried.status_code in (200, 202), retried.text
        session = retried.json()
        assert session["session_id"] == orphan
        assert session["status"] == "failed" and session["error"]["code"] == "start_interrupted", session
        assert session["signature"] is None
        assert api.get(f"/v1/sessions/{orphan}").json()["status"] == "failed"
        audit = api.get("/v1/audit-logs", params={"session_id": orphan}).json()["entries"]
        assert [e["action"] for e in audit if e["status"] == "failure"] == ["sign.start_interrupted"]

        # A client that only polls sees it end too.
        polled = _orphan(stack, key["key_id"], hashlib.sha256(b"polled").hexdigest(), idempotency_key=None, age=120)
        assert api.get(f"/v1/sessions/{polled}").json()["error"]["code"] == "start_interrupted"

        # So does one the API recorded running, with its pool claim, before the start.
        claimed = _orphan(stack, key["key_id"], hashlib.sha256(b"claimed").hexdigest(), idempotency_key=None,
                          age=120, status="running")
        assert api.get(f"/v1/sessions/{claimed}").json()["error"]["code"] == "start_interrupted"

        # A young pending row may still be starting: left alone.
        young = _orphan(stack, key["key_id"], hashlib.sha256(b"young").hexdigest(), idempotency_key=None, age=1)
        assert api.get(f"/v1/sessions/{young}").json()["status"] == "pending"

        # A retry while the orphan is still young gets it pending (and Redis now remembers it); once it is old
        # enough, the next retry, answered from Redis, ends it too.
        young_idem = f"interrupted-young-{uuid.uuid4()}"
        young_digest = hashlib.sha256(b"young and retried").hexdigest()
        remembered = _orphan(stack, key["key_id"], young_digest, idempotency_key=young_idem, age=1)
        first = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": young_digest},
                         headers={"Idempotency-Key": young_idem}).json()
        assert (first["session_id"], first["status"]) == (remembered, "pending")
        _age(stack, remembered, 120)
        later = api.post(f"/v1/keys/{key['key_id']}/sign", json={"digest": young_digest},
                         headers={"Idempotency-Key": young_idem}).json()
        assert (later["session_id"], later["status"]) == (remembered, "failed")
        assert later["error"]["code"] == "start_interrupted"

        # A new request (new key) signs as usual.
        fresh = api.post(f"/v1/keys/{key['key_id']}/sign?wait=true", json={"digest": digest},
                         headers={"Idempotency-Key": f"{idem}-again"})
        assert fresh.json()["status"] == "completed", fresh.text
