"""A participant process never dumps core: its memory holds key shares and nonces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.stack import Stack

ROOT = Path(__file__).resolve().parents[2]


def test_disable_core_dumps_sets_soft_and_hard_to_zero() -> None:
    # In a child process: the hard limit cannot be raised again, and the test process keeps its own.
    code = ("import resource; from workers.participant import disable_core_dumps; disable_core_dumps(); "
            "print(*resource.getrlimit(resource.RLIMIT_CORE))\n"
            "try:\n    resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20))\n"
            "except (ValueError, OSError):\n    print('refused')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["0", "0", "refused"]


def _core_limit(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit in /proc limits")


def test_running_participants_have_no_core_limit(stack: Stack) -> None:
    for node, process in stack.participants.items():
        assert process.pid is not None, node
        assert _core_limit(process.pid) == ("0", "0"), node
