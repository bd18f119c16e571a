"""Keys: create (distributed keygen), list, show, and sign with a key."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowFailureError

from api.errors import ApiError
from api.idempotency import refuse_changed_request, remember_session, remembered_session
from api.operations.context import Caller, Outcome
from api.orchestration import Started, idempotent_workflow_id, start_keygen, start_sign
from api.pagination import page
from api.refresh_schedule import apply_refresh_schedule
from api.schemas import KeyCreate, KeygenSessionPublic, KeyList, KeyPublic, SessionPublic, SignCreate
from api.start_interrupted import settle_if_never_started
from api.transactions import TransactionCreate, start_transaction
from api.views import key_view, session_view
from mpc.db.models import Key, SigningSession
from mpc.settings import parse_duration

LIST_LIMIT_MAX = 500


async def _same_request(db: AsyncSession, started: Started, body: KeyCreate | SignCreate | TransactionCreate) -> None:
    """An Idempotency-Key repeat is answered with the earlier session only for the same body (A6)."""
    if started.replayed and (row := await db.get(SigningSession, started.session_id)) is not None:
        await refuse_changed_request(db, row, body)


async def wait_for_session(caller: Caller, started: Started, wait: bool, timeout: float | None) -> SigningSession:
    """The session row, after waiting for the workflow when asked (a wait that times out answers like no wait)."""
    if wait and started.handle is not None:
        # The row is final when the coordinator's transaction announces it (mpc/session_events.py), or at the
        # latest when the workflow ends; a coalesced request shares its batch's one wait on the workflow.
        announced = caller.state.session_ends.ended(started.session_id)
        closed = asyncio.ensure_future(asyncio.shield(started.done) if started.done is not None
                                       else started.handle.result())
        try:
            done, _ = await asyncio.wait([announced, closed], return_when=asyncio.FIRST_COMPLETED,
                                         timeout=timeout or caller.state.settings.session_timeout)
        finally:
            for waiting in (announced, closed):
                waiting.cancel()
        failure = closed.exception() if closed in done else None
        if failure is not None and not isinstance(failure, WorkflowFailureError) and announced not in done:
            raise failure  # no answer from the workflow (a failed session's row says why it failed)
    caller.db.expire_all()
    row = await caller.db.get(SigningSession, started.session_id)
    if row is None:  # pragma: no cover - committed before the workflow started
        raise ApiError(500, "internal", "session row missing")
    return row


def _finished(row: SigningSession, wait: bool) -> bool:
    return wait and row.status in ("completed", "failed")


async def create_key(caller: Caller, body: KeyCreate, *, idempotency_key: str | None, wait: bool,
                     timeout: float | None) -> Outcome[KeygenSessionPublic]:
    db, state, principal = caller.db, caller.state, caller.principal
    idem_workflow = idempotent_workflow_id("keygen", principal, idempotency_key)
    known = await remembered_session(state.redis, idem_workflow)
    if known and (row := await db.get(SigningSession, known)) is not None:
        await settle_if_never_started(db, state.temporal, row)  # Redis remembers a replayed orphan too
        started = Started(row.session_id, row.key_id or "", row.workflow_id, None, replayed=True)
    else:
        started = await start_keygen(db, state.temporal, state.settings, principal, body, idempotency_key,
                                     signer=state.intent_signer)
        await remember_session(state.redis, idem_workflow, started.session_id)
        if body.refresh_every is not None and not started.replayed and (key := await db.get(Key, started.key_id)):
            # Runs before the keygen ends are skipped (the key is not active yet).
            await apply_refresh_schedule(db, state, key, parse_duration(body.refresh_every), principal.name)
    await _same_request(db, started, body)
    # Sessions and their latency are counted where they end (the coordinator worker), not here.
    row = await wait_for_session(caller, started, wait, timeout)
    key = await db.get(Key, row.key_id) if row.key_id else None
    answer = KeygenSessionPublic(**session_view(row).model_dump(), key=key_view(key) if key else None)
    return Outcome(answer, _finished(row, wait))


async def sign(caller: Caller, key_id: str, body: SignCreate, *, idempotency_key: str | None, wait: bool,
               timeout: float | None) -> Outcome[SessionPublic]:
    db, state, principal = caller.db, caller.state, caller.principal
    idem_workflow = idempotent_workflow_id("sign", principal, idempotency_key, scope=key_id)
    known = await remembered_session(state.redis, idem_workflow)
    if known and (row := await db.get(SigningSession, known)) is not None:
        await settle_if_never_started(db, state.temporal, row)  # Redis remembers a replayed orphan too
        started = Started(row.session_id, key_id, row.workflow_id, None, replayed=True)
    else:
        # A caller that waits may have its digest signed in a batch with others of its waiting requests.
        started = await start_sign(db, state.temporal, state.settings, principal, key_id, body, idempotency_key,
                                   signer=state.intent_signer, coalescer=state.coalescer if wait else None)
        await remember_session(state.redis, idem_workflow, started.session_id)
    try:
        await _same_request(db, started, body)
        row = await wait_for_session(caller, started, wait, timeout)  # counted where it ends: the coordinator worker
    finally:
        started.ended()
    return Outcome(session_view(row), _finished(row, wait))


async def sign_transaction(caller: Caller, key_id: str, body: TransactionCreate, *, idempotency_key: str | None,
                           wait: bool, timeout: float | None) -> Outcome[SessionPublic]:
    """A chain transaction: the nodes recompute what they sign from it (api/transactions.py)."""
    db, state, principal = caller.db, caller.state, caller.principal
    idem_workflow = idempotent_workflow_id("transaction", principal, idempotency_key, scope=key_id)
    known = await remembered_session(state.redis, idem_workflow)
    if known and (row := await db.get(SigningSession, known)) is not None:
        await settle_if_never_started(db, state.temporal, row)  # Redis remembers a replayed orphan too
        started = Started(row.session_id, key_id, row.workflow_id, None, replayed=True)
    else:
        started = await start_transaction(db, state.temporal, state.settings, principal, key_id, body,
                                          idempotency_key, signer=state.intent_signer)
        await remember_session(state.redis, idem_workflow, started.session_id)
    await _same_request(db, started, body)
    row = await wait_for_session(caller, started, wait, timeout)  # counted where it ends: the coordinator worker
    return Outcome(session_view(row), _finished(row, wait))


async def list_keys(db: AsyncSession, *, status: str | None, chain_type: str | None, limit: int,
                    offset: int) -> KeyList:
    query = select(Key)
    if status:
        query = query.where(Key.status == status)
    if chain_type:
        query = query.where(Key.chain_type == chain_type)
    rows, total = await page(db, query, Key.created_at.desc(), limit, offset)
    return KeyList(keys=[key_view(k) for k in rows], total=total)


async def get_key(db: AsyncSession, key_id: str) -> KeyPublic:
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    return key_view(key)
