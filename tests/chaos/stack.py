"""The chaos run's own `mpc dev`: free loopback ports, a temporary data dir, stopped by pid.

`mpc dev` is the supervisor under test: every process the driver kills is started again by it
(mpc/devstack/supervisor.py), and `<data-dir>/processes.json` says which pid is which process now.
Participants get their GG20 pre-parameter pools from the committed fixtures before they start (as the
test stack and bench/bench_reshare.py do), so no keygen generates primes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mpc.devstack.ports import free_port
from mpc.devstack.process import ManagedProcess
from mpc.devstack.supervisor import read_pids
from tests.stack import seed_preparams

ROOT = Path(__file__).resolve().parents[2]
NODES = ["node-1", "node-2", "node-3"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    return True


@dataclass
class ChaosStack:
    data_dir: Path
    log_dir: Path
    settings: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    process: ManagedProcess | None = None
    token: str = ""
    seen_pids: set[int] = field(default_factory=set)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, timeout: float = 420) -> None:
        self.ports = {name: free_port() for name in ("http", "grpc", "temporal", "ui", "vault", "db", "redis")}
        preparams = self.data_dir / "nodes"
        seed_preparams(preparams, NODES)
        for node in NODES:  # tests.stack seeds <dir>/<node>; mpc dev reads <data-dir>/nodes/<node>/shares
            folder = preparams / node / "shares"
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            (preparams / node / "preparams.jsonl").rename(folder / "preparams.jsonl")
        argv = [sys.executable, "-m", "mpc", "dev", "--data-dir", str(self.data_dir), "--log-level", "INFO"]
        for name, port in self.ports.items():
            argv += [f"--{name}-port", str(port)]
        env = {**os.environ, **self.settings}
        self.process = ManagedProcess("mpc-dev", argv, log_path=self.log_dir / "mpc-dev.log", env=env, cwd=ROOT)
        self.process.start()
        self.process.wait_until(lambda: "mpc dev is ready" in self.process.log_path.read_text(errors="replace")
                                if self.process else False, timeout, 0.5)
        self.token = (self.data_dir / "admin-token").read_text().strip()
        self.pids()

    def pids(self) -> dict[str, int]:
        """Current pid of each process, by the name `mpc dev` gives it (api, coordinator, node-1, ...)."""
        pids = read_pids(self.data_dir)
        self.seen_pids.update(pids.values())
        return pids

    def vault(self) -> tuple[str, str]:
        import json

        init = json.loads((self.data_dir / "openbao" / "vault-init.json").read_text())
        return f"http://127.0.0.1:{self.ports['vault']}", str(init["root_token"])

    def codec_key(self) -> str:
        return (self.data_dir / "payload-codec.key").read_text().strip()

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers=self.headers, timeout=timeout)

    def stop(self) -> list[int]:
        """Stop `mpc dev` (it stops its children), then kill by pid any process of the run still alive."""
        if self.process is not None:
            self.pids()
            self.process.stop(timeout=120, sig=signal.SIGINT)
        left = [pid for pid in sorted(self.seen_pids) if alive(pid)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)
        return [pid for pid in left if alive(pid)]
