"""`mpc dev`'s restart-on-crash (mpc/devstack/supervisor.py) with real child processes."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from mpc.devstack.process import ManagedProcess, ServiceStartError
from mpc.devstack.supervisor import Supervised, Supervisor, read_pids


def _sleeper(tmp_path: Path, name: str) -> ManagedProcess:
    return ManagedProcess(name, [sys.executable, "-c", "import time; time.sleep(60)"],
                          log_path=tmp_path / f"{name}.log")


def test_a_killed_process_is_started_again_and_its_new_pid_published(tmp_path: Path) -> None:
    process = _sleeper(tmp_path, "api")
    process.start()
    said: list[str] = []
    supervisor = Supervisor([Supervised("api", lambda: process, process.start)], tmp_path / "processes.json",
                            said.append)
    try:
        supervisor.write_pids()
        first = read_pids(tmp_path)["api"]
        assert first == process.pid
        os.killpg(first, signal.SIGKILL)
        process.proc.wait(5)  # type: ignore[union-attr]
        supervisor.check(lambda: False)
        assert process.running() and process.pid != first
        assert read_pids(tmp_path)["api"] == process.pid
        assert supervisor.restarts == {"api": 1}
        assert said and "killed by signal 9" in said[0]
        supervisor.check(lambda: False)  # a running process is left alone
        assert supervisor.restarts == {"api": 1}
    finally:
        process.stop()


def test_nothing_is_restarted_while_stopping(tmp_path: Path) -> None:
    process = _sleeper(tmp_path, "redis")
    process.start()
    process.kill()
    supervisor = Supervisor([Supervised("redis", lambda: process, process.start)], tmp_path / "p.json", print)
    supervisor.check(lambda: True)
    assert not process.running() and supervisor.restarts == {}


def test_a_crash_loop_stops_the_stack(tmp_path: Path) -> None:
    crashing = ManagedProcess("temporal", [sys.executable, "-c", "raise SystemExit(3)"],
                              log_path=tmp_path / "temporal.log")
    crashing.start()
    supervisor = Supervisor([Supervised("temporal", lambda: crashing, crashing.start)], tmp_path / "p.json",
                            print, limit=2, window=60)
    with pytest.raises(ServiceStartError, match="temporal exited 3 times"):
        for _ in range(10):
            crashing.proc.wait(5)  # type: ignore[union-attr]
            supervisor.check(lambda: False)
            time.sleep(0.05)
    crashing.stop()


def test_a_failed_restart_is_retried_at_the_next_pass(tmp_path: Path) -> None:
    process = _sleeper(tmp_path, "openbao")
    attempts: list[int] = []

    def flaky_start() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ServiceStartError("not ready")
        process.start()

    process.start()
    process.kill()
    supervisor = Supervisor([Supervised("openbao", lambda: process, flaky_start)], tmp_path / "p.json", print)
    try:
        supervisor.check(lambda: False)
        assert not process.running() and supervisor.restarts == {}
        supervisor.check(lambda: False)
        assert process.running() and supervisor.restarts == {"openbao": 1}
    finally:
        process.stop()
