"""A holder's own record of whether its share may sign (disable / enable), set only under an intent.

The API refusing to sign a disabled key is not enough when whoever drives Temporal is the threat:
each node keeps the key's state sealed in its own store and refuses every signing session while
it is disabled (`key_disabled`). The state changes only under an intent for `disable` / `enable`
(the policy's `disable` quorum covers both), and only forwards: an intent older than the one applied
(by `not_after`) is refused, so replaying an old `enable` cannot undo a later `disable`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from temporalio import activity

from activities.authorisation import Pinned, calling_workflow
from activities.node_services import NodeServices, invalid_request
from mpc.intents import KeyPolicy
from mpc.keystore import KeystoreError, SecretStateStore, ShareNotFoundError
from mpc.protocols import Activity
from workflows.types import KeyStateCall, KeyStateResult

KEY_STATE = "key-state"


_known: dict[tuple[int, str], dict | None] = {}
"""What this process read or wrote per (store, key): only this node's own activity changes the record,
so every signing check after the first one is a dictionary lookup, not a sealed read through Vault."""


def _read(state: SecretStateStore, key_id: str) -> dict | None:
    if (id(state), key_id) in _known:
        return _known[(id(state), key_id)]
    try:
        record: dict | None = json.loads(state.get(KEY_STATE, key_id, "state"))
    except ShareNotFoundError:
        record = None
    _known[(id(state), key_id)] = record
    return record



def _order(not_after: int, details: Mapping[str, Any]) -> tuple[int, int]:
    """Which of two key-state intents is newer: the later expiry, then (issued within one second, so with the
    same whole-second expiry) the later issue time the API signed into it; intents without one sort first."""
    issued = details.get("issued_ns", 0)
    return not_after, issued if isinstance(issued, int) and not isinstance(issued, bool) else 0


def refuse_if_disabled(state: SecretStateStore, key_id: str) -> None:
    current = _read(state, key_id)
    if current is not None and not current.get("enabled", True):
        invalid_request("key_disabled", f"key {key_id} is disabled on this node; enable it first")


class KeyStates:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    @activity.defn(name=Activity.SET_KEY_STATE.value)
    async def set_key_state(self, request: KeyStateCall) -> KeyStateResult:
        services = self.services
        try:
            meta = services.shares.get_meta(request.key_id)
        except (KeystoreError, ValueError):
            invalid_request("share_unavailable", f"no share of key {request.key_id} on {services.node_id}")
        pinned = Pinned.from_public(meta.public)
        operation = "enable" if request.enabled else "disable"
        intent = services.intents.verify(request.intent, operation=operation, key_id=request.key_id,
                                         epoch=meta.epoch, policy=pinned.policy if pinned else KeyPolicy())
        current = _read(services.state, request.key_id)
        order = _order(intent.not_after, intent.details)
        newer = current is None or current["intent_id"] == intent.intent_id or order > (
            current["not_after"], current.get("issued_ns", 0))
        if not newer:
            invalid_request("intent_reused", "an older key-state intent than the one this node applied last")
        services.intents.record(intent, workflow_id=calling_workflow(), slot="key-state",
                                session_id=request.session_id)
        record = {"enabled": request.enabled, "intent_id": intent.intent_id, "not_after": intent.not_after,
                  "issued_ns": order[1]}
        services.state.put(KEY_STATE, request.key_id, "state", json.dumps(record).encode(), replace=True)
        _known[(id(services.state), request.key_id)] = record
        return KeyStateResult(services.node_id, request.enabled)

