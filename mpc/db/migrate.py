"""`mpc migrate up|down`: Alembic driven from code, with the migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    """The revision the database is at (None when never migrated)."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    from mpc.db.engine import create_engine

    async def _read() -> str | None:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                try:
                    row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
                except ProgrammingError:
                    return None
                return row[0] if row else None
        finally:
            await engine.dispose()

    return asyncio.run(_read())
