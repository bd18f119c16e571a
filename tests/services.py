"""Session-scoped fixtures that start the real services on free ports, and stop them by pid.

Each service starts on first use only, so pure unit tests start nothing. Teardown runs also when
tests fail (pytest finalisers), and every process is stopped by its process group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.devstack.postgres import PostgresServer
from mpc.devstack.redis import RedisServer
from mpc.devstack.temporal import TemporalDevServer


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def temporal_server(services_dir: Path) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(services_dir / "temporal", free_port(), db_file=services_dir / "temporal.db")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_server(services_dir: Path) -> Iterator[OpenBaoServer]:
    """A persistent (raft) OpenBao, so tests can seal and unseal it."""
    server = OpenBaoServer(services_dir / "openbao", free_port(), persistent=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server(services_dir: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(services_dir / "postgres", free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(services_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(services_dir / "redis", free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
