"""Session-scoped fixtures that start the real services on free ports, and stop them by pid.

Each service starts on first use only, so pure unit tests start nothing. Teardown runs also when
tests fail (pytest finalisers), and every process is stopped by its process group.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.devstack.postgres import PostgresServer
from mpc.devstack.process import ManagedProcess
from mpc.devstack.redis import RedisServer
from mpc.devstack.temporal import TemporalDevServer
from mpc.settings import Settings

_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"MPC_CONFIG"}


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


Service = TypeVar("Service", TemporalDevServer, OpenBaoServer, PostgresServer, RedisServer)


def _running(server: Service) -> Iterator[Service]:
    """Start a service for the session; stop it by pid afterwards, also after failures."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def temporal_server(services_dir: Path) -> Iterator[TemporalDevServer]:
    yield from _running(TemporalDevServer(services_dir / "temporal", free_port(), db_file=services_dir / "temporal.db"))


@pytest.fixture(scope="session")
def openbao_server(services_dir: Path) -> Iterator[OpenBaoServer]:
    """A persistent (raft) OpenBao, so tests can seal and unseal it."""
    yield from _running(OpenBaoServer(services_dir / "openbao", free_port(), persistent=True))


@pytest.fixture(scope="session")
def postgres_server(services_dir: Path) -> Iterator[PostgresServer]:
    yield from _running(PostgresServer(services_dir / "postgres", free_port()))


@pytest.fixture(scope="session")
def redis_server(services_dir: Path) -> Iterator[RedisServer]:
    yield from _running(RedisServer(services_dir / "redis", free_port()))


# ---- the platform's own processes on top of the services ------------------------------------


TEST_PAYLOAD_CODEC_KEY = "5e" * 32
"""Test-only codec key (never used outside tests): fixed so recorded workflow histories stay readable
by the replay test in tests/workflows/."""


@pytest.fixture(scope="session")
def payload_codec_key() -> str:
    return TEST_PAYLOAD_CODEC_KEY


@pytest.fixture(scope="session")
def migrated_db(postgres_server: PostgresServer) -> str:
    """The session database, migrated to head; returns its SQLAlchemy URL."""
    from mpc.db import migrate

    url = postgres_server.dsn()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def stack_env(
    migrated_db: str,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    temporal_server: TemporalDevServer,
    openbao_server: OpenBaoServer,
    payload_codec_key: str,
    services_dir: Path,
) -> dict[str, str]:
    """Environment variables that point a platform process at the session's services."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    empty_config = services_dir / "empty-config.yaml"
    empty_config.write_text("")
    env.update({
        "MPC_CONFIG": str(empty_config), "ENVIRONMENT": "test", "LOG_LEVEL": "INFO",
        "DB_HOST": postgres_server.host, "DB_PORT": str(postgres_server.port), "DB_NAME": "mpc",
        "DB_USER": "postgres", "REDIS_HOST": redis_server.host, "REDIS_PORT": str(redis_server.port),
        "TEMPORAL_ADDRESS": temporal_server.address, "VAULT_ADDR": openbao_server.address,
        "VAULT_TOKEN": openbao_server.token, "PAYLOAD_CODEC_KEY": payload_codec_key,
        "LISTEN_ADDRESS": "127.0.0.1", "HEARTBEAT_INTERVAL": "0.5", "NODE_OFFLINE_AFTER": "3s",
        # Backups go to the session's directory; no Schedule unless a test asks for one (tests/integration/
        # test_backup.py restarts the coordinator with a one-minute cron).
        "BACKUP_DIR": str(services_dir / "backups"), "BACKUP_SCHEDULE": "",
        # Tests never generate primes: participants get committed pre-parameters (tests/stack.py
        # seed_preparams) and no background filler (tests/workers/test_preparams_filler.py tests it).
        "PREPARAMS_POOL_TARGET": "0",
    })
    return env


def make_token(database_url: str, role: str, name: str | None = None, ttl: float = 3600,
               node_id: str | None = None) -> str:
    """Create an API token directly in the database (what `mpc tokens create` does)."""
    from api.auth import create_token
    from mpc.db import create_engine, session_factory

    async def create() -> str:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                token, _ = await create_token(session, name=name or f"test-{role}", role=role, ttl_seconds=ttl,
                                              node_id=node_id)
                await session.commit()
                return token
        finally:
            await engine.dispose()

    return _run_coroutine(create())


def _run_coroutine(coro: Any) -> Any:
    """Run a coroutine from sync code, also when the caller's thread already has a running loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def admin_token(migrated_db: str) -> str:
    return make_token(migrated_db, "admin")


@pytest.fixture(scope="session")
def node_tokens(migrated_db: str) -> Callable[[str], str]:
    """`node_tokens(node_id)`: a node token bound to that node id (made once per id and session)."""
    made: dict[str, str] = {}

    def token_for(node_id: str) -> str:
        if node_id not in made:
            made[node_id] = make_token(migrated_db, "node", name=f"test-{node_id}", node_id=node_id)
        return made[node_id]

    return token_for


def start_api(env: dict[str, str], log_dir: Path, name: str = "api", port: int | None = None,
              ) -> tuple[ManagedProcess, str]:
    """Start `mpc api` as a real process (on a free port by default); returns it and its base URL."""
    port = port or free_port()
    process = ManagedProcess(name, [sys.executable, "-m", "mpc", "api"], log_path=log_dir / f"{name}-{port}.log",
                             # a free gRPC port too: 9090 may be another stack's (GRPC_PORT in env keeps one)
                             env={**env, "HTTP_PORT": str(port),
                                  "GRPC_PORT": env.get("GRPC_PORT") or str(free_port())})
    process.start()
    url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, 60)
    return process, url


@pytest.fixture(scope="session")
def api_server(stack_env: dict[str, str], services_dir: Path) -> Iterator[str]:
    """The API as its own process against the session services; yields its base URL."""
    process, url = start_api(stack_env, services_dir / "logs")
    try:
        yield url
    finally:
        process.stop()
