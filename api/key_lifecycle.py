"""Disable, enable and archive a key: the API checks and signs the intent, every holder enforces it itself.

Disable is an emergency stop, so it is accepted with holders offline: the workflow marks the key
`disabled` in the database first and tells every holder; one that cannot be reached is named in
the failed session and the others stay disabled. Enable needs every holder online and marks the
key `active` only when all of them enabled it. Archive (`DELETE /v1/keys/{id}`) marks the key
`archived` and has every holder erase its share; metadata, public key and address stay. All three
count under the policy's `disable` quorum.
"""

from __future__ import annotations

import time
import uuid

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import ApiError
from api.intent_issuer import issue
from api.orchestration import (
    ClientFactory,
    Started,
    _existing,
    commit_then_start,
    online_nodes,
    party_ids_of,
    party_of,
    policy_from,
    workflow_id_for,
)
from mpc.db.models import AuditLog, Key, Node, SigningSession
from mpc.intent_keys import IntentSigner
from mpc.intents import KeyPolicy
from mpc.settings import Settings
from workflows.key_state import KeyStateWorkflow
from workflows.search import initial_attributes
from workflows.types import KeyStateRequest


class KeyStateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, description="why, for the audit log")


async def start_key_state(db: AsyncSession, client_factory: ClientFactory, settings: Settings, principal: Principal,
                          key_id: str, enabled: bool, body: KeyStateChange, idempotency_key: str | None, *,
                          signer: IntentSigner, archive: bool = False) -> Started:
    operation = "archive" if archive else "enable" if enabled else "disable"
    key = await db.get(Key, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    if enabled and key.status != "disabled":
        raise ApiError(409, "key_not_disabled", f"key {key_id} is {key.status}, not disabled")
    if archive and key.status == "pending":
        raise ApiError(409, "key_not_active", f"key {key_id} is still being generated")
    if not enabled and not archive and key.status not in ("active", "flagged"):
        raise ApiError(409, "key_not_active", f"key {key_id} is {key.status}; only an active or flagged key is "
                                              "disabled")
    session_id = str(uuid.uuid4())
    workflow_id = workflow_id_for(operation, principal, idempotency_key, session_id, scope=key_id)
    if idempotency_key and (row := await _existing(db, workflow_id)) is not None:
        return Started(row.session_id, key_id, workflow_id, None, replayed=True)
    holders = list(key.participants)
    rows = {n: await db.get(Node, n) for n in holders}
    missing = [n for n, row in rows.items() if row is None]
    if missing:
        raise ApiError(409, "unknown_nodes", f"holders no longer registered: {', '.join(missing)}", nodes=missing)
    if enabled:
        online = await online_nodes(db, settings)
        offline = [n for n in holders if n not in online]
        if offline:
            raise ApiError(409, "nodes_offline", f"every holder must be online to enable: {', '.join(offline)}",
                           nodes=offline)
    pids = party_ids_of(key)
    parties = [party_of(rows[n], pids[n]) for n in holders]  # type: ignore[arg-type]
    needed = KeyPolicy.from_dict((key.public_data or {}).get("policy")).required(operation)
    waits_for = settings.approval_timeout if needed else 0.0
    intent = await issue(signer, operation=operation, key_id=key_id, epoch=key.epoch,
                         ttl=settings.intent_ttl + waits_for,
                         # Orders two key-state intents issued within one second (`not_after` is whole seconds).
                         details={"holders": holders, "reason": body.reason, "issued_ns": time.time_ns()})
    db.add(SigningSession(session_id=session_id, key_id=key_id, workflow_id=workflow_id, operation=operation,
                          protocol=key.protocol, status="pending", participants=holders))
    db.add(AuditLog(actor=principal.name, action=f"key.{operation}_request", resource_type="key", resource_id=key_id,
                    session_id=session_id, status="accepted", details={"reason": body.reason, "holders": holders}))
    await db.flush()
    request = KeyStateRequest(session_id=session_id, key_id=key_id, enabled=enabled, archive=archive,
                              parties=parties, intent=intent,
                              policy=policy_from(settings), requested_by=principal.name, approvals_needed=needed,
                              approval_timeout_seconds=settings.approval_timeout)
    attributes = initial_attributes(key_id=key_id, protocol=key.protocol, curve=key.curve, chain=key.chain_type,
                                    operation=operation)
    handle = await commit_then_start(db, client_factory, settings, KeyStateWorkflow.run, request, workflow_id,
                                     attributes, session_id=session_id, waits_for=waits_for)
    return Started(session_id, key_id, workflow_id, handle, replayed=False)
