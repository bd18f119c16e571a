"""Starting the session of coalesced sign requests (api/coalesce.py decides when; this module does it).

The requests were checked and recorded (session rows pending, request audit entries) when they came in.
Here the batch gets what any session gets at its start: the signers online now, one intent the API signs
naming every digest in order (each node checks it, SECURITY.md A1-A3), and one workflow. Alone in its batch,
a request starts as the ordinary single-digest session it would have been, under its own workflow id; with
others, as a batch (FROST, or GG20 from the presignature pool) whose every digest belongs to one request's
session row (`item_sessions`). If the start fails, the batch's rows are removed, as for any request that
did not start, and every caller gets the error.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.coalesce import GroupKey, Launched, Waiting
from api.errors import ApiError
from api.intent_issuer import issue
from api.orchestration import (
    SignPlan,
    SignSpec,
    Started,
    batch_allowance,
    claim_first_attempt,
    commit_then_start,
    default_signers,
    forget,
    online_nodes,
    party_ids_of,
    party_of,
)
from api.schemas import SignCreate
from mpc.db.models import SHARED_WORKFLOW_PREFIX, Key, SigningSession
from workflows.sign import SignWorkflow

if TYPE_CHECKING:
    from api.state import AppState



class BatchLauncher:
    """`SignCoalescer`'s launch: start one session for the waiting requests of one key and caller."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, group: GroupKey, batch: list[Waiting[Started]]) -> Launched[Started]:
        session_ids = [waiting.session_id for waiting in batch]
        async with self.state.sessions() as db:
            try:
                return await self._launch(db, group, batch)
            except Exception as exc:
                await db.rollback()
                await forget(db, session_ids)
                if isinstance(exc, ApiError):
                    raise
                raise ApiError(503, "temporal_unavailable", f"could not start the session ({type(exc).__name__}); "
                                                            "nothing was recorded") from None

    async def _launch(self, db: AsyncSession, group: GroupKey, batch: list[Waiting[Started]]) -> Launched[Started]:
        key_id, caller = group
        settings = self.state.settings
        key = await db.get(Key, key_id)
        if key is None or key.status != "active":
            raise ApiError(409, "key_not_active", f"key {key_id} is not active")
        online = await online_nodes(db, settings)
        party_ids = party_ids_of(key)
        chosen, alternates = default_signers(key, online)
        session_ids = [waiting.session_id for waiting in batch]
        digests = [waiting.digest for waiting in batch]
        rows = (await db.execute(select(SigningSession).where(SigningSession.session_id.in_(session_ids))
                                 )).scalars().all()
        if len(rows) != len(session_ids):
            raise ApiError(500, "internal", "session row missing")
        alone = len(batch) == 1
        # Alone: its own workflow id, recorded with its row; together: one shared id on every row.
        workflow_id = rows[0].workflow_id if alone else f"{SHARED_WORKFLOW_PREFIX}{uuid.uuid4()}"
        for row in rows:
            row.workflow_id = workflow_id
        signed = {"digest": digests[0]} if alone else {"digests": digests}
        waits_for = batch_allowance(key, len(digests), settings)
        plan = SignPlan(caller, key, SignSpec(digests[0], None, None, None, request=SignCreate(digest=digests[0])),
                        session_ids[0], workflow_id, chosen, alternates,
                        [party_of(online[n], party_ids[n]) for n in chosen],
                        [party_of(online[n], party_ids[n]) for n in alternates], 0, waits_for, None, signed)
        intent = await issue(self.state.intent_signer, operation="sign", key_id=key_id, epoch=key.epoch,
                             ttl=settings.intent_ttl + waits_for, details=plan.intent_details())
        request = plan.sign_request(settings, intent) if alone else plan.sign_request(
            settings, intent, digests=digests, item_sessions=session_ids)
        request = await claim_first_attempt(db, settings, request, list(rows))  # running, with its nonces
        handle = await commit_then_start(db, self.state.temporal, settings, SignWorkflow.run, request, workflow_id,
                                         plan.attributes(), session_id=session_ids[0], waits_for=waits_for)
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def finished() -> None:  # one wait on the workflow for the whole batch, shared by its callers
            try:
                await handle.result()
            finally:
                if not ended.done():
                    ended.set_result(None)

        return Launched({s: Started(s, key_id, workflow_id, handle, replayed=False, done=ended)
                         for s in session_ids}, finished())

