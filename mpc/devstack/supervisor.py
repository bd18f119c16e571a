"""Restart-on-crash for `mpc dev`: every process of the stack, services included, comes back after it dies.

A process that exits (a crash, an OOM kill, `kill -9`) is started again by the same function that
started it: a service (PostgreSQL, Redis, OpenBao, Temporal) through its `start()`, which waits until
it serves again (OpenBao is unsealed again from the data dir; PostgreSQL runs its crash recovery on
the same data directory; Temporal reopens its SQLite file on the same port), an application process
(the API, the coordinator worker, a participant) through `ManagedProcess.start`. Only a crash loop
stops the stack: `limit` exits of one process within `window` seconds.

Each process's current pid is kept in `<data-dir>/processes.json` (rewritten atomically after every
start), so operators and the chaos driver (`scripts/chaos`) can find the process they mean by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mpc.devstack.process import ManagedProcess, ServiceStartError

PROCESSES_FILE = "processes.json"


@dataclass
class Supervised:
    """One process under supervision: how to find it and how to start it again."""

    name: str
    current: Callable[[], ManagedProcess | None]
    restart: Callable[[], None]
    exits: deque[float] = field(default_factory=deque)


class Supervisor:
    def __init__(self, entries: list[Supervised], pid_file: Path, say: Callable[[str], None], *,
                 limit: int = 5, window: float = 60.0) -> None:
        self.entries = entries
        self.pid_file = pid_file
        self.say = say
        self.limit = limit
        self.window = window
        self.restarts: dict[str, int] = {}

    def write_pids(self) -> None:
        pids = {e.name: p.pid for e in self.entries if (p := e.current()) is not None and p.pid is not None}
        temp = self.pid_file.with_suffix(".tmp")
        temp.write_text(json.dumps({"supervisor": os.getpid(), "processes": pids,
                                    "restarts": self.restarts}, sort_keys=True))
        temp.replace(self.pid_file)

    def check(self, stopping: Callable[[], bool]) -> None:
        """Start again every process that is no longer running (one pass)."""
        for entry in self.entries:
            process = entry.current()
            if process is None or process.running() or stopping():
                continue
            code = process.proc.returncode if process.proc is not None else None
            now = time.monotonic()
            entry.exits.append(now)
            while entry.exits and entry.exits[0] < now - self.window:
                entry.exits.popleft()
            if len(entry.exits) > self.limit:
                raise ServiceStartError(f"{entry.name} exited {len(entry.exits)} times in {self.window:.0f} s; "
                                        f"see {process.log_path}")
            self.say(f"{entry.name} exited ({_describe(code)}); restarting (see {process.log_path})")
            process.stop(timeout=5)  # whatever is left of its process group
            try:
                entry.restart()
            except Exception as exc:  # any failed start counts as another exit at the next pass
                self.say(f"{entry.name} did not come back: {str(exc).splitlines()[0]}")
                with contextlib.suppress(Exception):
                    failed = entry.current()
                    if failed is not None:
                        failed.stop(timeout=5)
                continue
            self.restarts[entry.name] = self.restarts.get(entry.name, 0) + 1
            self.write_pids()


def _describe(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def read_pids(data_dir: Path) -> dict[str, int]:
    """The current pid of each process of an `mpc dev` stack (empty while it starts)."""
    try:
        return {str(k): int(v) for k, v in json.loads((data_dir / PROCESSES_FILE).read_text())["processes"].items()}
    except (OSError, ValueError, KeyError):
        return {}
