"""Fixture plugin: the platform's own processes on the session services (API, coordinator worker, participants).

Every process is real (`python -m mpc ...`), started once per test session and stopped by pid.
Tests that kill or restart a process do it through `Stack`, which restarts it afterwards.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.devstack.process import ManagedProcess
from tests.services import start_api

PARTICIPANTS = [f"p{i}" for i in range(1, 6)]
PREPARAMS_FIXTURE = Path(__file__).parent / "fixtures" / "ecdsa" / "preparams.jsonl"


def seed_preparams(data_dir: Path, nodes: list[str]) -> None:
    """Give each participant its own committed 2048-bit pre-parameter sets (10 each for p1..p5: keygens,
    refreshes and reshares), so ECDSA tests never generate primes. The node seals and deletes the file
    at start."""
    lines = [line for line in PREPARAMS_FIXTURE.read_text().splitlines() if line.strip()]
    per_node = len(lines) // len(nodes)
    for i, node in enumerate(nodes):
        folder = data_dir / node
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / "preparams.jsonl"
        target.touch(mode=0o600)
        target.write_text("".join(line + "\n" for line in lines[i * per_node:(i + 1) * per_node]))


@dataclass
class Stack:
    api_url: str
    admin_token: str
    env: dict[str, str]
    log_dir: Path
    data_dir: Path
    api: ManagedProcess
    coordinator: ManagedProcess
    participants: dict[str, ManagedProcess] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    """Each worker's METRICS_PORT (/metrics, /health), kept across restarts of that worker."""

    @property
    def grpc_target(self) -> str:
        """host:port of the API's gRPC server."""
        return f"127.0.0.1:{self.env['GRPC_PORT']}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def client(self, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers=self.headers, timeout=timeout)

    node_tokens: Callable[[str], str] | None = None

    def metrics_port(self, name: str) -> int:
        return self.metrics_ports.setdefault(name, free_port())

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port(name)}/metrics"

    def participant_env(self, node_id: str) -> dict[str, str]:
        assert self.node_tokens is not None
        return {**self.env, "NODE_TYPE": "participant", "NODE_ID": node_id, "API_TOKEN": self.node_tokens(node_id),
                "KEY_SHARE_STORAGE_PATH": str(self.data_dir / node_id), "VAULT_TRANSIT_KEY": f"mpc-{node_id}",
                "COORDINATOR_ENDPOINT": self.api_url, "METRICS_PORT": str(self.metrics_port(node_id))}

    def start_participant(self, node_id: str) -> ManagedProcess:
        process = ManagedProcess(node_id, [sys.executable, "-m", "mpc", "worker", "participant"],
                                 log_path=self.log_dir / f"{node_id}.log",
                                 env=self.participant_env(node_id))
        process.start()
        self.participants[node_id] = process
        return process

    def restart_api(self) -> None:
        """Stop the API process and start a new one on the same port (participants keep their endpoint)."""
        port = int(self.api_url.rsplit(":", 1)[1])
        self.api.stop()
        self.api, _ = start_api(self.env, self.log_dir, name="api-stack", port=port)
        # Heartbeats were refused while the API was down: wait until the running nodes are seen again.
        self.wait_online([n for n, p in self.participants.items() if p.running()], fresh=True)

    def start_coordinator(self) -> ManagedProcess:
        self.coordinator = ManagedProcess("coordinator", [sys.executable, "-m", "mpc", "worker", "coordinator"],
                                          log_path=self.log_dir / "coordinator.log",
                                          env={**self.env, "METRICS_PORT": str(self.metrics_port("coordinator"))})
        self.coordinator.start()
        return self.coordinator

    def wait_online(self, nodes: list[str], timeout: float = 60, fresh: bool = False) -> None:
        """Until every node is online; `fresh`: by a heartbeat received after this call began."""
        started = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = httpx.get(f"{self.api_url}/v1/nodes", headers=self.headers, timeout=5).json()["nodes"]
            online = {n["node_id"] for n in listed if n["status"] == "online"
                      and (not fresh or n["seconds_since_heartbeat"] < time.time() - started)}
            if set(nodes) <= online:
                return
            time.sleep(0.2)
        raise TimeoutError(f"nodes not online: {sorted(set(nodes) - online)}")

    def admit(self, nodes: list[str], timeout: float = 60) -> None:
        """Approve each node once it has registered (a new node is `pending` until an admin admits it)."""
        deadline = time.monotonic() + timeout
        waiting = set(nodes)
        while waiting and time.monotonic() < deadline:
            for node in sorted(waiting):
                reply = httpx.post(f"{self.api_url}/v1/nodes/{node}/approve", headers=self.headers, timeout=5)
                if reply.status_code == 200:
                    waiting.discard(node)
            if waiting:
                time.sleep(0.2)
        if waiting:
            raise TimeoutError(f"nodes never registered: {sorted(waiting)}")

    def stop(self) -> None:
        for process in [*self.participants.values(), self.coordinator, self.api]:
            process.stop()


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], services_dir: Path, admin_token: str, node_tokens: Callable[[str], str],
          openbao_server: OpenBaoServer) -> Iterator[Stack]:
    log_dir = services_dir / "logs"
    env = {**stack_env, "ROUND_TIMEOUT": "5s", "ROUND_RETRIES": "2", "SESSION_TIMEOUT": "120s",
           "NONCE_POOL_TARGET": "3", "GRPC_PORT": str(free_port()),  # kept when the API restarts
           # GG20 presignature pools: off here (tests count GG20 rounds); test_presign_pool turns them on
           "PRESIGN_POOL_TARGET": "0", "WORKFLOW_SANDBOX": "true"}
    api, url = start_api(env, log_dir, name="api-stack")
    env["COORDINATOR_ENDPOINT"] = url
    placeholder = ManagedProcess("none", ["true"], log_path=log_dir / "none.log")
    s = Stack(url, admin_token, env, log_dir, services_dir / "nodes", api, placeholder, node_tokens=node_tokens)
    try:
        s.start_coordinator()
        seed_preparams(s.data_dir, PARTICIPANTS)
        for node in PARTICIPANTS:
            openbao_server.ensure_transit_key(f"mpc-{node}")
            s.start_participant(node)
        s.admit(PARTICIPANTS)
        s.wait_online(PARTICIPANTS)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
async def raw_temporal_client(stack: Stack):
    """A Temporal client without the codec: sees exactly what the server stores."""
    from temporalio.client import Client

    return await Client.connect(stack.env["TEMPORAL_ADDRESS"])
