"""Long-lived clients of the API process, created in the app's lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.coalesce import SignCoalescer
from mpc.codec import EncryptionCodec
from mpc.db import create_engine, session_factory
from mpc.intent_keys import IntentSigner, signer_from
from mpc.session_events import SessionEndListener
from mpc.settings import Settings
from mpc.temporal_client import connect

if TYPE_CHECKING:
    from api.orchestration import Started


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    codec: EncryptionCodec
    session_ends: SessionEndListener
    _temporal: Client | None = None
    _intent_signer: IntentSigner | None = None
    _temporal_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _coalescer: SignCoalescer[Started] | None = None

    @classmethod
    def build(cls, settings: Settings, codec: EncryptionCodec) -> AppState:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            redis=aioredis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
            codec=codec,
            session_ends=SessionEndListener(settings.database_url),
        )

    async def temporal(self) -> Client:
        """Connect on first use, so the API starts (and /ready can report) while Temporal is down."""
        async with self._temporal_lock:
            if self._temporal is None:
                self._temporal = await asyncio.wait_for(
                    connect(self.settings.temporal_address, self.settings.temporal_namespace, self.codec), 5
                )
            return self._temporal

    @property
    def intent_signer(self) -> IntentSigner:
        """Built on first use (the local fallback writes its key file then; Vault is asked per signature)."""
        if self._intent_signer is None:
            self._intent_signer = signer_from(self.settings)
        return self._intent_signer

    @property
    def coalescer(self) -> SignCoalescer[Started]:
        """Sign requests of one key and caller that wait behind running sessions start as one (api/coalesce.py)."""
        if self._coalescer is None:
            from api.sign_batching import BatchLauncher

            self._coalescer = SignCoalescer(BatchLauncher(self))
        return self._coalescer

    async def close(self) -> None:
        await self.session_ends.close()
        await self.redis.aclose()
        await self.engine.dispose()
