"""Per-process breakdown of a signature on an `mpc dev` stack: where each process spends its time.

Python processes (API, coordinator worker, participants) are sampled with py-spy (`--idle`, so a
thread blocked in fsync or in a Vault HTTP call counts too, and `--threads` to tell threads apart);
each sample is put in one category by the frames on its stack, first match wins (see CATEGORIES).
Samples of a thread that only waits (the event loop in epoll, an idle pool thread) are dropped: what
is left is the time that process's threads were busy or blocked per signature, by category.

The other services (Temporal, OpenBao, PostgreSQL, Redis) are measured by the CPU time they use
(/proc utime + stime of the process and its children) over the same window.

Used by bench_service.py (`--profile-signatures`); needs the `py-spy` binary (dev extra) and ptrace
rights over the stack's processes (the same user).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

RATE_HZ = 200

# (category, substrings of a frame: file path or function) in priority order.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("Vault transit (HTTP)", ("hvac/", "requests/", "urllib3/")),
    ("fsync / file writes", ("fsync", "keystore/_fs.py")),
    ("PostgreSQL client", ("asyncpg/", "sqlalchemy/")),
    ("Redis client", ("redis/",)),
    ("FROST / ECDSA math (tss)", ("/tss/",)),
    ("envelopes, identity, sealing", ("mpc/envelope.py", "mpc/identity.py", "keystore/_blob.py", "nacl/",
                                      "cryptography/", "mpc/intents.py", "mpc/codec.py")),
    ("Temporal SDK (workflow and activity plumbing)", ("temporalio/",)),
    ("HTTP API (FastAPI, pydantic, uvicorn)", ("fastapi/", "starlette/", "uvicorn/", "pydantic", "h11/", "anyio/")),
]
OTHER = "other Python"
_IDLE_LEAVES = ("Thread.run (threading.py",  # a thread in native code only (e.g. a runtime's own loop)
                "select (selectors.py", "poll (selectors.py", "epoll", "wait (threading.py", "_worker (concurrent",
                "get (queue.py", "sleep (", "_run_once", "run_forever", "accept (", "wait_for (")


def classify(stack: str) -> str | None:
    """The category of one sampled stack (frames root;...;leaf), or None for a thread that only waits."""
    frames = [f for f in stack.split(";") if not f.startswith("thread (")]
    if not frames or _idle(frames[-1]):  # no Python frame: a native thread (Temporal core) or one waiting for work
        return None  # an event loop in epoll, a pool thread or a worker poll waiting for work
    for name, needles in CATEGORIES:
        if any(n in stack for n in needles):
            return name
    return OTHER


def _idle(leaf: str) -> bool:
    return any(marker in leaf for marker in _IDLE_LEAVES)


@dataclass
class ProcessProfile:
    name: str
    pid: int
    categories: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # seconds
    cpu_seconds: float = 0.0


def python_processes(root_pid: int) -> dict[str, int]:
    """The `mpc` application processes under `root_pid` (an `mpc dev`), by role: api, coordinator, p1..."""
    found: dict[str, int] = {}
    for pid in descendants(root_pid):
        cmd = _read(f"/proc/{pid}/cmdline").split(b"\0")
        if b"-m" not in cmd or b"mpc" not in cmd:
            continue
        args = [c.decode(errors="replace") for c in cmd]
        if "api" in args:
            found["api"] = pid
        elif "coordinator" in args:
            found["coordinator"] = pid
        elif "participant" in args:
            env = dict(kv.split(b"=", 1) for kv in _read(f"/proc/{pid}/environ").split(b"\0") if b"=" in kv)
            found[env.get(b"NODE_ID", str(pid).encode()).decode()] = pid
    return found


def service_processes(root_pid: int) -> dict[str, list[int]]:
    """Temporal, OpenBao, PostgreSQL and Redis processes under `root_pid`, by service."""
    names = {"temporal": "Temporal server", "bao": "OpenBao", "postgres": "PostgreSQL", "redis-server": "Redis"}
    found: dict[str, list[int]] = defaultdict(list)
    for pid in descendants(root_pid):
        exe = _read(f"/proc/{pid}/cmdline").split(b"\0")[0].decode(errors="replace")
        base = os.path.basename(exe)
        for key, label in names.items():
            if base == key or base.startswith(key + ":") or (key == "postgres" and "postgres" in exe):
                found[label].append(pid)
    return found


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat").decode(errors="replace")
            if stat:
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children[ppid].append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime (+ reaped children's) of the processes, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
        if stat:
            fields = stat.rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / tick


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


@contextlib.contextmanager
def profiled(root_pid: int, seconds: float, keep: Path | None = None) -> Iterator[dict[str, ProcessProfile]]:
    """Sample every application process for `seconds` while the body runs; fills the yielded dict at exit.
    `keep`: copy py-spy's raw stacks (collapsed format, for flame graphs) into this folder."""
    spy = shutil.which("py-spy") or str(Path(os.sys.executable).with_name("py-spy"))
    procs = python_processes(root_pid)
    services = service_processes(root_pid)
    out: dict[str, ProcessProfile] = {}
    folder = Path(tempfile.mkdtemp(prefix="mpc-bench-pyspy-"))
    spies = []
    cpu_before = {name: cpu_seconds([pid]) for name, pid in procs.items()}
    svc_before = {name: cpu_seconds(pids) for name, pids in services.items()}
    try:
        for name, pid in procs.items():
            argv = [spy, "record", "--pid", str(pid), "--idle", "--threads", "--rate", str(RATE_HZ), "--duration",
                    str(int(seconds) + 1), "--format", "raw", "--output", str(folder / f"{name}.txt"), "--nonblocking"]
            spies.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # py-spy attaches
        yield out
        for name, pid in procs.items():
            out[name] = ProcessProfile(name, pid, cpu_seconds=cpu_seconds([pid]) - cpu_before[name])
        for name, pids in services.items():
            out[name] = ProcessProfile(name, pids[0], cpu_seconds=cpu_seconds(pids) - svc_before[name])
    finally:
        for spy_proc in spies:
            try:
                spy_proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                spy_proc.kill()
                spy_proc.wait()
    for name in procs:
        path = folder / f"{name}.txt"
        if path.exists() and name in out:
            for line in path.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                category = classify(stack)
                if category is not None and count.isdigit():
                    out[name].categories[category] += int(count) / RATE_HZ
    if keep is not None:
        shutil.copytree(folder, keep, dirs_exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def breakdown_table(profiles: dict[str, ProcessProfile], per: int, label: Callable[[str], str] = str) -> list[str]:
    """Markdown: per process, ms per signature by category, and CPU ms per signature."""
    names = [c for c, _ in CATEGORIES] + [OTHER]
    lines = ["| process | CPU ms/sig | " + " | ".join(names) + " |", "| --- | ---: | " + " | ".join(
        "---:" for _ in names) + " |"]
    for proc in profiles.values():
        cells = [f"{proc.categories.get(n, 0.0) * 1000 / per:.1f}" if proc.categories else "" for n in names]
        lines.append(f"| {label(proc.name)} | {proc.cpu_seconds * 1000 / per:.1f} | " + " | ".join(cells) + " |")
    return lines
