"""Migrations up and down on the real PostgreSQL (through asyncpg)."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from mpc.db import create_engine, migrate
from mpc.devstack.postgres import PostgresServer

TABLES = {"keys", "nodes", "signing_sessions", "audit_logs", "api_tokens", "nonce_commitments", "backups",
          "node_nonce_epochs", "client_certificates", "revoked_certificates"}
HEAD = "0012"


def _tables_and_indexes(url: str) -> tuple[set[str], set[str]]:
    async def read() -> tuple[set[str], set[str]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                def collect(sync_conn) -> tuple[set[str], set[str]]:
                    insp = inspect(sync_conn)
                    tables = set(insp.get_table_names())
                    indexes = {ix["name"] for t in tables for ix in insp.get_indexes(t)}
                    return tables, indexes

                return await conn.run_sync(collect)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_up_down_up(postgres_server: PostgresServer) -> None:
    postgres_server._create_database("migrations_test")
    url = postgres_server.dsn("migrations_test")
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == HEAD
    tables, indexes = _tables_and_indexes(url)
    assert tables >= TABLES
    assert {"ix_keys_status", "ix_signing_sessions_key_id", "ix_audit_logs_timestamp", "ix_nodes_status"} <= indexes
    migrate.downgrade(url)
    assert migrate.current(url) is None
    tables, _ = _tables_and_indexes(url)
    assert not (TABLES & tables)
    migrate.upgrade(url)
    assert migrate.current(url) == HEAD


def test_models_match_migrations(migrated_db: str) -> None:
    """Autogenerate finds nothing to add: the models and the migration scripts agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mpc.db.models import Base

    async def diff() -> list:
        engine = create_engine(migrated_db, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
