"""Key lifecycle (disable, enable, archive), reshare and refresh, the refresh schedule, and the epoch history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from api.key_lifecycle import KeyStateChange, start_key_state
from api.operations.context import Caller, Outcome
from api.operations.keys import wait_for_session
from api.recover import RecoverCreate, start_recovery
from api.refresh_schedule import MIN_EVERY_SECONDS, apply_refresh_schedule, schedule_id
from api.reshare import RefreshCreate, ReshareCreate, start_change
from api.schemas import SessionPublic
from api.views import session_view
from mpc.db.models import Key
from mpc.protocols import KEY_PROTOCOLS
from mpc.settings import parse_duration


async def change_key_state(caller: Caller, key_id: str, *, enabled: bool, body: KeyStateChange | None,
                           idempotency_key: str | None, archive: bool = False) -> SessionPublic:
    """Disable, enable or archive (`archive=True`): a session that changes the key's state on every holder."""
    state = caller.state
    started = await start_key_state(caller.db, state.temporal, state.settings, caller.principal, key_id, enabled,
                                    body or KeyStateChange(), idempotency_key, signer=state.intent_signer,
                                    archive=archive)
    return session_view(await wait_for_session(caller, started, False, None))


async def change_shares(caller: Caller, key_id: str, body: ReshareCreate | RefreshCreate | RecoverCreate, *,
                        idempotency_key: str | None, wait: bool, timeout: float | None) -> Outcome[SessionPublic]:
    """Reshare (`ReshareCreate`), refresh (`RefreshCreate`) or recover from escrow (`RecoverCreate`) the key's
    shares."""
    state = caller.state
    if isinstance(body, RecoverCreate):
        started = await start_recovery(caller.db, state.temporal, state.settings, caller.principal, key_id, body,
                                       idempotency_key, signer=state.intent_signer)
    else:
        started = await start_change(caller.db, state.temporal, state.settings, caller.principal, key_id, body,
                                     idempotency_key, signer=state.intent_signer)
    # A failed session's row says why; one still running after the wait is answered as without it.
    row = await wait_for_session(caller, started, wait, timeout)
    return Outcome(session_view(row), wait and row.status in ("completed", "failed"))


class RefreshSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: str | None = Field(max_length=32, description='how often, e.g. "24h", "30m"; null removes the schedule')


class RefreshSchedulePublic(BaseModel):
    key_id: str
    schedule_id: str | None = Field(description="the Temporal Schedule (temporal schedule list), null when none")
    every_seconds: float | None


async def set_refresh_schedule(caller: Caller, key_id: str, body: RefreshSchedule) -> RefreshSchedulePublic:
    db = caller.db
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    if key.status == "archived":
        raise ApiError(409, "key_not_active", f"key {key_id} is archived")
    if KEY_PROTOCOLS[key.protocol].refresh is None:
        raise ApiError(422, "protocol_not_available", f"refresh of {key.protocol} keys is not available")
    every: float | None = None
    if body.every is not None:
        try:
            every = parse_duration(body.every)
        except (ValueError, TypeError):
            raise ApiError(422, "invalid_value", 'every is a duration such as "24h" or "30m"', field="every") from None
        if every < MIN_EVERY_SECONDS:
            raise ApiError(422, "invalid_value", f"every must be at least {MIN_EVERY_SECONDS:g} s", field="every")
    await apply_refresh_schedule(db, caller.state, key, every, caller.principal.name)
    return RefreshSchedulePublic(key_id=key_id, schedule_id=schedule_id(key_id) if every else None,
                                 every_seconds=every)


class EpochPublic(BaseModel):
    epoch: int
    holders: list[str]
    threshold: int
    created: datetime
    reason: str
    active: bool


class EpochList(BaseModel):
    key_id: str
    epochs: list[EpochPublic]


async def key_epochs(db: AsyncSession, key_id: str) -> EpochList:
    """The keygen epoch, then one per completed refresh or reshare (recorded at its commit point)."""
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    history = (key.public_data or {}).get("epochs")
    if not history:
        history = [{"epoch": key.epoch, "holders": list(key.participants), "threshold": key.threshold,
                    "created": key.created_at, "reason": "keygen"}]
    epochs = [EpochPublic(epoch=int(e["epoch"]), holders=list(e["holders"]), threshold=int(e["threshold"]),
                          created=e["created"], reason=str(e["reason"]),
                          active=key.status != "pending" and int(e["epoch"]) == key.epoch) for e in history]
    return EpochList(key_id=key_id, epochs=epochs)
