"""The API's side of intents: it names each share-using operation exactly and signs it as one approver.

The API signs only what it validated itself from a client's request (never on behalf of a
workflow or a node), so a process that drives Temporal cannot mint an intent (DESIGN.md "Trust
model"). The signature comes from Vault transit (blocking HTTP), so it runs off the event loop.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from typing import Any

from api.errors import ApiError
from mpc.intent_keys import IntentKeyError, IntentSigner
from mpc.intents import Intent
from workflows.types import SessionIntent


async def issue(signer: IntentSigner, *, operation: str, key_id: str, epoch: int, ttl: float,
                details: Mapping[str, Any]) -> SessionIntent:
    intent = Intent(intent_id=secrets.token_hex(16), operation=operation, key_id=key_id, epoch=epoch,
                    not_after=int(time.time() + ttl), details=dict(details))
    raw = intent.to_bytes()
    try:
        signature = await asyncio.to_thread(signer.sign, raw)
    except IntentKeyError as exc:
        raise ApiError(503, "intent_key_unavailable", f"the API cannot sign the intent: {exc}") from None
    return SessionIntent(intent=raw.hex(), api_signature=signature)
