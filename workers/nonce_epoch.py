"""At start, before it serves any round, a participant follows its nonce-epoch token kept off its disk.

The token lives in the metadata database (`GET /v1/nodes/{id}/nonce-epoch`); a restore (`mpc backup
restore --nodes`) or an admin (`mpc nodes reset-nonce-epoch`) sets a new one. The node remembers the last
token it applied in `<state>/.nonce-epoch-applied`, which a volume snapshot brings back with the rest of the
disk: a token other than that one means "restored", and the node bumps its own nonce epoch
(`SecretStateStore.bump_nonce_epoch`), discards every one-time secret of older epochs and only then polls.
A crash between the bump and the record bumps again next time (the safe direction). SECURITY.md N4.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from activities.ecdsa_node import PREPARAMS_POOL, PRESIG_ONCE
from activities.frost_signing import NONCES
from mpc.keystore import SecretStateStore, _fs

log = logging.getLogger("mpc.worker.nonce_epoch")
APPLIED_FILE = ".nonce-epoch-applied"
VOIDED_NAMESPACES = (NONCES, PRESIG_ONCE, PREPARAMS_POOL)
"""One-time namespaces voided by a bump. Pre-parameters too: a restored set may have served a keygen after the
backup (each is for one keygen only), and a void set left in place would count towards the pool level."""


@dataclass(frozen=True)
class RemoteEpoch:
    counter: int
    token: str | None


def applied_token(state: SecretStateStore) -> str | None:
    raw = _fs.read_file(state.root / APPLIED_FILE)
    try:
        return str(json.loads(raw)["token"]) if raw else None
    except (ValueError, KeyError, TypeError):
        return ""  # unreadable: treated as "another token" (bump)


def apply_remote_epoch(state: SecretStateStore, remote: RemoteEpoch) -> bool:
    """Bump the node's nonce epoch if the remote token is new to it; True if it did."""
    if not remote.token or applied_token(state) == remote.token:
        return False
    epoch = state.bump_nonce_epoch()
    voided = sum(state.purge_stale(namespace) for namespace in VOIDED_NAMESPACES)
    _fs.atomic_write(state.root / APPLIED_FILE, json.dumps({"token": remote.token, "counter": remote.counter,
                                                            "local_counter": epoch.counter}).encode())
    log.warning("restored node: nonce epoch bumped, %d nonces/presignatures voided", voided,
                extra={"nonce_epoch": epoch.counter, "remote_counter": remote.counter})
    return True


async def fetch_remote_epoch(api_url: str, token: str, node_id: str, stop: asyncio.Event, *,
                             tls: Mapping[str, Any] | None = None) -> RemoteEpoch | None:
    """Ask the API until it answers (None if `stop` is set first): the node serves no round before.

    `tls`: httpx options for an HTTPS API (mpc/tls_client.py: its CA, the node's client certificate)."""
    delay = 0.5
    async with httpx.AsyncClient(timeout=5, **dict(tls or {})) as client:
        while not stop.is_set():
            try:
                reply = await client.get(f"{api_url.rstrip('/')}/v1/nodes/{node_id}/nonce-epoch",
                                         headers={"Authorization": f"Bearer {token}"})
                if reply.status_code == 404:  # not registered yet: it has never been restored either
                    return RemoteEpoch(0, None)
                if reply.status_code == 200:
                    body = reply.json()
                    return RemoteEpoch(int(body["counter"]), body.get("token"))
                log.warning("nonce-epoch check refused: HTTP %s", reply.status_code, extra={"node_id": node_id})
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                log.warning("nonce-epoch check failed, retrying: %s", type(exc).__name__, extra={"node_id": node_id})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 10)
    return None
