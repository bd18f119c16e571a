"""`mpc dev`: the whole stack on one machine, supervised, stopped in order on Ctrl-C.

Start order: PostgreSQL (migrated), Redis, OpenBao (transit key per participant), Temporal (UI,
search attributes, codec endpoint), the API, the coordinator worker, the participants. Stop order is
the reverse. Everything lives under one data dir, so a second `mpc dev` finds its keys, nodes,
workflows and shares again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port, port_is_free, require_free_port
from mpc.devstack.postgres import PostgresServer
from mpc.devstack.process import ManagedProcess
from mpc.devstack.prometheus import PrometheusServer, Target, participant_targets, prometheus_binary
from mpc.devstack.redis import RedisServer
from mpc.devstack.supervisor import PROCESSES_FILE, Supervised, Supervisor
from mpc.devstack.temporal import TemporalDevServer
from mpc.devstack.tls import DevTls

HOST = "127.0.0.1"


@dataclass(frozen=True)
class DevStackConfig:
    data_dir: Path
    http_port: int = 8080
    grpc_port: int = 9090
    temporal_port: int = 7233
    ui_port: int = 8233
    vault_port: int = 8200
    db_port: int = 5432
    redis_port: int = 6379
    participants: int = 3
    log_level: str = "INFO"
    prometheus: bool = False
    prometheus_port: int = 9091
    tls: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DevStackConfig:
        if not 2 <= args.participants <= 20:
            raise SystemExit("mpc dev: --participants must be between 2 and 20")
        return cls(
            data_dir=Path(args.data_dir).resolve(), http_port=args.http_port,
            grpc_port=getattr(args, "grpc_port", 9090), temporal_port=args.temporal_port,
            ui_port=args.ui_port, vault_port=args.vault_port, db_port=args.db_port, redis_port=args.redis_port,
            participants=args.participants, log_level=args.log_level,
            prometheus=getattr(args, "prometheus", False), prometheus_port=getattr(args, "prometheus_port", 9091),
            tls=getattr(args, "tls", False),
        )

    def node_ids(self) -> list[str]:
        return [f"node-{i}" for i in range(1, self.participants + 1)]


def _write_secret_file(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")


def _read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    _write_secret_file(path, value)
    return value


class DevStack:
    def __init__(self, config: DevStackConfig) -> None:
        self.config = config
        data = config.data_dir
        self.postgres = PostgresServer(data / "postgres", config.db_port)
        self.redis = RedisServer(data / "redis", config.redis_port)
        self.vault = OpenBaoServer(data / "openbao", config.vault_port, persistent=True)
        self.temporal = TemporalDevServer(
            data / "temporal", config.temporal_port, ui_port=config.ui_port,
            db_file=data / "temporal" / "temporal.db",
            codec_endpoint=f"{'https' if config.tls else 'http'}://{HOST}:{config.http_port}/codec",
        )
        self.services: list[PostgresServer | RedisServer | OpenBaoServer | TemporalDevServer | PrometheusServer] = [
            self.postgres, self.redis, self.vault, self.temporal]
        self.apps: list[ManagedProcess] = []
        # Each worker's /metrics and /health (METRICS_PORT): a free port picked just before the worker starts,
        # kept across restarts unless another process took it meanwhile (_restart_app).
        self.metrics_ports: dict[str, int] = {}
        self.prometheus: PrometheusServer | None = None
        # --tls: a development CA and server certificate in <data-dir>/tls; every client here trusts that CA
        self.tls = DevTls(data / "tls") if config.tls else None
        self._verify: ssl.SSLContext | bool = True  # the dev CA's context once it exists (_base_env)
        self._stopping = False

    # ---- start -------------------------------------------------------------------------------
    def check_ports(self) -> None:
        c = self.config
        for what, port in (("PostgreSQL (--db-port)", c.db_port), ("Redis (--redis-port)", c.redis_port),
                           ("OpenBao (--vault-port)", c.vault_port), ("Temporal (--temporal-port)", c.temporal_port),
                           ("Temporal UI (--ui-port)", c.ui_port), ("API (--http-port)", c.http_port),
                           ("gRPC API (--grpc-port)", c.grpc_port),
                           *([("Prometheus (--prometheus-port)", c.prometheus_port)] if c.prometheus else [])):
            require_free_port(what, HOST, port)

    def start(self) -> None:
        started = time.monotonic()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.data_dir.chmod(0o700)
        self.check_ports()
        self._say("starting PostgreSQL")
        self.postgres.start()
        from mpc.db import migrate

        migrate.upgrade(self.postgres.dsn())
        self._say("starting Redis")
        self.redis.start()
        self._say("starting OpenBao")
        self.vault.start()
        for node_id in self.config.node_ids():
            self.vault.ensure_transit_key(f"mpc-{node_id}")
        self._say("starting Temporal")
        self.config.data_dir.joinpath("temporal").mkdir(exist_ok=True)
        self.temporal.start()
        codec_key = _read_or_create_secret(self.config.data_dir / "payload-codec.key", lambda: secrets.token_hex(32))
        admin_token = self._token_file("admin-token", "dev-admin", "admin")
        env = self._base_env(codec_key)
        self._say("starting API, coordinator worker and participants")
        self._platform_started = time.time()
        self._spawn("api", ["api"], env)
        api = self.apps[-1]
        api.wait_until(lambda: httpx.get(f"{self.api_url}/health", timeout=1, verify=self._verify).status_code == 200,
                       60)
        self._spawn("coordinator", ["worker", "coordinator"],
                    {**env, "METRICS_PORT": self._metrics_port("coordinator")})
        for node_id in self.config.node_ids():
            node_dir = self.config.data_dir / "nodes" / node_id
            # Each participant has its own token, bound to its node id (SECURITY.md A4).
            node_token = self._token_file(f"node-token-{node_id}", f"dev-{node_id}", "node", node_id=node_id)
            node_env = {**env, "NODE_TYPE": "participant", "NODE_ID": node_id, "API_TOKEN": node_token,
                        "KEY_SHARE_STORAGE_PATH": str(node_dir / "shares"), "VAULT_TRANSIT_KEY": f"mpc-{node_id}",
                        "METRICS_PORT": self._metrics_port(node_id)}
            self._spawn(node_id, ["worker", "participant"], node_env)
        # A worker that dies while the stack comes up (a port taken meanwhile, Temporal slow) is started again.
        supervisor = self.supervisor()

        def ready() -> bool:
            supervisor.check(lambda: self._stopping)
            return self._ready()

        api.wait_until(ready, 120, interval=0.25)
        self._start_prometheus()
        self._print_summary(time.monotonic() - started, admin_token)

    def _start_prometheus(self) -> None:
        """`--prometheus`: a local Prometheus scraping the API, the coordinator worker and every participant
        at the metrics URL it registered, with the repository's alert rules; skipped when not installed."""
        if not self.config.prometheus:
            return
        if prometheus_binary() is None:
            self._say("--prometheus: prometheus is not installed (Debian: apt-get install prometheus); "
                      "continuing without it")
            return
        self._say("starting Prometheus")
        coordinator = [Target(f"{self.api_url}/metrics", {"node": "api"}),
                       Target(f"http://{HOST}:{self.metrics_ports['coordinator']}/metrics", {"node": "coordinator-1"})]
        self.prometheus = PrometheusServer(self.config.data_dir / "prometheus", self.config.prometheus_port,
                                           coordinator, interval="5s", ca_file=self.tls.ca if self.tls else None)
        self.services.append(self.prometheus)  # stopped with the services, also when start fails
        self.prometheus.start()
        self.prometheus.set_participants(participant_targets(self._nodes()))

    def _nodes(self) -> list[dict[str, object]]:
        headers = {"Authorization": f"Bearer {(self.config.data_dir / 'admin-token').read_text().strip()}"}
        ours = set(self.config.node_ids())
        nodes = httpx.get(f"{self.api_url}/v1/nodes", headers=headers, timeout=5, verify=self._verify).json()["nodes"]
        return [n for n in nodes if n["node_id"] in ours]

    @property
    def api_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.config.http_port}"

    def _token_file(self, filename: str, name: str, role: str, node_id: str | None = None) -> str:
        """Reuse the token in the data dir if the database still knows it; otherwise make a new one."""
        from api.auth import authenticate, create_token
        from mpc.db import create_engine, session_factory

        path = self.config.data_dir / filename

        async def ensure() -> str:
            engine = create_engine(self.postgres.dsn(), pool_size=1)
            try:
                async with session_factory(engine)() as session:
                    if path.exists():
                        existing = path.read_text().strip()
                        principal = await authenticate(session, existing)
                        if principal is not None and principal.node_id == node_id:
                            return existing
                    token, _ = await create_token(session, name=name, role=role, ttl_seconds=365 * 86400,
                                                  node_id=node_id)
                    await session.commit()
                    return token
            finally:
                await engine.dispose()

        token = asyncio.run(ensure())
        _write_secret_file(path, token)
        return token

    def _base_env(self, codec_key: str) -> dict[str, str]:
        c = self.config
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_", "VAULT_", "TEMPORAL_"))}
        env.pop("MPC_CONFIG", None)
        env.update({
            "ENVIRONMENT": "development", "LOG_LEVEL": c.log_level, "MPC_CONFIG": str(c.data_dir / "no-config.yaml"),
            "DB_HOST": HOST, "DB_PORT": str(c.db_port), "DB_NAME": "mpc", "DB_USER": "postgres",
            "REDIS_HOST": HOST, "REDIS_PORT": str(c.redis_port),
            "TEMPORAL_ADDRESS": self.temporal.address, "TEMPORAL_NAMESPACE": "default",
            "VAULT_ADDR": self.vault.address, "VAULT_TOKEN": self.vault.token,
            "PAYLOAD_CODEC_KEY": codec_key, "LISTEN_ADDRESS": HOST, "HTTP_PORT": str(c.http_port),
            "GRPC_PORT": str(c.grpc_port),
            "COORDINATOR_ENDPOINT": self.api_url, "NODE_TYPE": "coordinator", "NODE_ID": "coordinator-1",
            "CODEC_CORS_ORIGINS": f"http://{HOST}:{c.ui_port},http://localhost:{c.ui_port}",
            "BACKUP_DIR": str(c.data_dir / "backups"),  # the coordinator also creates the backup Schedule
        })
        if self.tls:
            self.tls.ensure()
            self._verify = ssl.create_default_context(cafile=str(self.tls.ca))
            env.update({"TLS_ENABLED": "true", "TLS_CERT_FILE": str(self.tls.cert), "TLS_KEY_FILE": str(self.tls.key),
                        "TLS_CA_FILE": str(self.tls.ca)})
        # An empty YAML file: the dev stack is configured by its environment alone.
        (c.data_dir / "no-config.yaml").write_text("# mpc dev: configured through environment variables\n")
        return env

    def _metrics_port(self, name: str) -> str:
        self.metrics_ports[name] = free_port(HOST)
        return str(self.metrics_ports[name])

    def _restart_app(self, process: ManagedProcess) -> None:
        """Start an application process again; a worker keeps its METRICS_PORT unless another process
        took it while the worker was down (a port picked by `free_port` can be any client's source port)."""
        env = process.env or {}
        if "METRICS_PORT" in env and not port_is_free(HOST, int(env["METRICS_PORT"])):
            env["METRICS_PORT"] = self._metrics_port(process.name)
            self._say(f"{process.name}: its metrics port was taken meanwhile; now {env['METRICS_PORT']}")
        process.start()

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        process = ManagedProcess(name, [sys.executable, "-m", "mpc", *args],
                                 log_path=self.config.data_dir / "logs" / f"{name}.log", env=env)
        process.start()
        self.apps.append(process)

    def _ready(self) -> bool:
        headers = {"Authorization": f"Bearer {(self.config.data_dir / 'admin-token').read_text().strip()}"}
        if httpx.get(f"{self.api_url}/ready", timeout=5, verify=self._verify).status_code != 200:
            return False
        from mpc.db.models import Admission

        nodes = httpx.get(f"{self.api_url}/v1/nodes", headers=headers, timeout=5, verify=self._verify).json()
        ours = set(self.config.node_ids())
        for node in nodes["nodes"]:  # mpc dev admits its own participants; any other node stays pending
            if node["node_id"] in ours and node.get("admission") == Admission.PENDING:
                httpx.post(f"{self.api_url}/v1/nodes/{node['node_id']}/approve", headers=headers, timeout=5,
                           verify=self._verify)
        # Online by a heartbeat of *this* run: after a restart the database still holds the last run's.
        since_start = time.time() - self._platform_started
        online = {n["node_id"] for n in nodes["nodes"]
                  if n["status"] == "online" and n["seconds_since_heartbeat"] < since_start}
        return ours <= online

    def _print_summary(self, seconds: float, admin_token: str) -> None:
        c = self.config
        print(
            f"\nmpc dev is ready ({seconds:.1f} s); data in {c.data_dir}\n"
            f"  API           {self.api_url}   (docs: {self.api_url}/docs, metrics: {self.api_url}/metrics)\n"
            f"  gRPC API      {HOST}:{c.grpc_port}   (reflection and grpc.health.v1; same token"
            + (f"; TLS, CA {self.tls.ca})\n" if self.tls else ")\n") +
            f"  Temporal      {self.temporal.address}   (Web UI: http://{HOST}:{c.ui_port})\n"
            f"  Vault/OpenBao {self.vault.address}   (root token in {self.vault.init_file}, development only)\n"
            f"  PostgreSQL    postgresql://postgres@{HOST}:{c.db_port}/mpc\n"
            f"  Redis         redis://{HOST}:{c.redis_port}\n"
            f"  participants  {', '.join(c.node_ids())}   (metrics: ports "
            f"{', '.join(str(self.metrics_ports[n]) for n in c.node_ids())}; coordinator worker "
            f"{self.metrics_ports['coordinator']})\n"
            + (f"  Prometheus    {self.prometheus.url}   (alerts: {self.prometheus.url}/alerts)\n"
               if self.prometheus else "") +
            f"  admin token   {c.data_dir / 'admin-token'}   (export MPC_API_TOKEN=$(cat that file))\n"
            f"  logs          {c.data_dir / 'logs'}\n"
            "Press Ctrl-C to stop everything.",
            flush=True,
        )

    @staticmethod
    def _say(message: str) -> None:
        print(f"mpc dev: {message}", flush=True)

    # ---- supervise and stop ---------------------------------------------------------------
    def supervisor(self) -> Supervisor:
        """Every process of the stack, services first, each with the function that starts it again."""
        def service(s: PostgresServer | RedisServer | OpenBaoServer | TemporalDevServer | PrometheusServer
                    ) -> Supervised:
            assert s.process is not None
            return Supervised(s.process.name, lambda: s.process, s.start)

        def app(p: ManagedProcess) -> Supervised:
            return Supervised(p.name, lambda: p, lambda: self._restart_app(p))

        entries = [service(s) for s in self.services if s.process is not None] + [app(p) for p in self.apps]
        return Supervisor(entries, self.config.data_dir / PROCESSES_FILE, self._say)

    def supervise(self) -> None:
        """Until Ctrl-C, start again any process that dies (see mpc/devstack/supervisor.py)."""
        supervisor = self.supervisor()
        supervisor.write_pids()
        while not self._stopping:
            time.sleep(0.5)
            supervisor.check(lambda: self._stopping)

    def stop(self) -> None:
        self._stopping = True
        for process in reversed(self.apps):
            process.stop()
        for service in reversed(self.services):
            service.stop()
        (self.config.data_dir / PROCESSES_FILE).unlink(missing_ok=True)

    def run(self) -> None:
        def _interrupt(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt

        for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: it may be ignored when started in background
            signal.signal(sig, _interrupt)
        try:
            self.start()
            self.supervise()
        except KeyboardInterrupt:
            self._say("stopping")
        finally:
            self.stop()
            self._say("stopped")
