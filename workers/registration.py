"""A participant registers with the API at COORDINATOR_ENDPOINT and sends signed heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from mpc.node_auth import heartbeat_message, registration_message

log = logging.getLogger("mpc.worker.registration")


class Registrar:
    def __init__(
        self,
        *,
        api_url: str,
        api_token: str,
        node_id: str,
        signing_public_key: str,
        encryption_public_key: str,
        sign: Callable[[bytes], bytes],
        capabilities: dict[str, Any],
        endpoint: str = "",
        version: str | None = None,
        metrics_url: str = "",
        tls: dict[str, Any] | None = None,
        pool_levels: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.tls = tls or {}  # httpx TLS options (mpc/tls_client.py): the API's CA, a client certificate
        self.headers = {"Authorization": f"Bearer {api_token}"}
        self.node_id = node_id
        self.signing_public_key = signing_public_key
        self.encryption_public_key = encryption_public_key
        self.sign = sign
        self.capabilities = capabilities
        self.endpoint = endpoint
        self.version = version
        self.metrics_url = metrics_url
        self.pool_levels = pool_levels  # one-time secrets ready per pool (blocking: a directory listing)

    def registration(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "node_id": self.node_id, "endpoint": self.endpoint, "signing_public_key": self.signing_public_key,
            "encryption_public_key": self.encryption_public_key, "capabilities": self.capabilities,
            "version": self.version, "timestamp": time.time(),
        }
        if self.metrics_url:  # signed with the rest (mpc/node_auth.py: an empty one is left out)
            fields["metrics_url"] = self.metrics_url
        return {**fields, "signature": self.sign(registration_message(fields)).hex()}

    async def register(self, client: httpx.AsyncClient) -> None:
        reply = await client.post(f"{self.api_url}/v1/nodes/register", json=self.registration(), headers=self.headers)
        if reply.status_code != 200:
            raise RegistrationError(f"registration refused ({reply.status_code}): {reply.text[:300]}")

    async def heartbeat(self, client: httpx.AsyncClient) -> int:
        levels = await self._levels()
        timestamp = time.time()
        body: dict[str, Any] = {"timestamp": timestamp,
                                "signature": self.sign(heartbeat_message(self.node_id, timestamp, levels)).hex()}
        if levels:
            body["pool_levels"] = levels
        reply = await client.post(f"{self.api_url}/v1/nodes/{self.node_id}/heartbeat", json=body,
                                  headers=self.headers)
        return reply.status_code

    async def _levels(self) -> dict[str, int]:
        if self.pool_levels is None:
            return {}
        try:
            return dict(await asyncio.to_thread(self.pool_levels))
        except OSError as exc:  # a disk hiccup costs this heartbeat its levels, not the heartbeat
            log.warning("pool levels could not be counted: %s", type(exc).__name__, extra={"node_id": self.node_id})
            return {}

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Register (retrying while the API is not up), then heartbeat until `stop`."""
        async with httpx.AsyncClient(timeout=5, **self.tls) as client:
            delay = 0.5
            while not stop.is_set():
                try:
                    await self.register(client)
                    log.info("registered", extra={"node_id": self.node_id})
                    break
                except (httpx.HTTPError, RegistrationError) as exc:
                    log.warning("registration failed, retrying: %s", exc, extra={"node_id": self.node_id})
                    await _sleep_or_stop(stop, delay)
                    delay = min(delay * 2, 10)
            while not stop.is_set():
                await _sleep_or_stop(stop, interval)
                if stop.is_set():
                    break
                try:
                    status = await self.heartbeat(client)
                    if status == 404:  # the API lost us (database reset): register again
                        await self.register(client)
                    elif status != 200:
                        log.warning("heartbeat refused: HTTP %s", status, extra={"node_id": self.node_id})
                except httpx.HTTPError as exc:
                    log.warning("heartbeat failed: %s", type(exc).__name__, extra={"node_id": self.node_id})


class RegistrationError(RuntimeError):
    pass


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
