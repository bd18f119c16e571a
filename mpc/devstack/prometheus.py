"""A local Prometheus (Debian's `prometheus` package, or any `prometheus` on PATH) scraping the dev stack.

The configuration has the two scrape jobs of `deploy/prometheus/prometheus.yml` — `mpc-coordinator`
(the API and the coordinator worker) and `mpc-participants` — and loads the repository's alert rules.
Participants are found through a file of targets (`file_sd`) that the stack writes from the metrics URLs
the nodes registered (`GET /v1/nodes`), so the scrape follows what each node announced.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from mpc.devstack.process import ManagedProcess

REPO = Path(__file__).resolve().parents[2]
ALERT_RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
COORDINATOR_JOB = "mpc-coordinator"
PARTICIPANTS_JOB = "mpc-participants"


def prometheus_binary() -> str | None:
    """`prometheus` from PATH (Debian installs /usr/bin/prometheus), or None when it is not installed."""
    return shutil.which("prometheus")


@dataclass(frozen=True)
class Target:
    url: str
    """A /metrics URL."""
    labels: dict[str, str]


def _static(targets: Sequence[Target]) -> list[dict[str, Any]]:
    groups = []
    for target in targets:
        parts = urlsplit(target.url)
        labels = {**target.labels, "__metrics_path__": parts.path or "/metrics", "__scheme__": parts.scheme or "http"}
        groups.append({"targets": [parts.netloc], "labels": labels})
    return groups


def render_config(*, coordinator: Sequence[Target], participants_file: Path, interval: str = "5s",
                  rules: Sequence[Path] = (), ca_file: Path | None = None) -> dict[str, Any]:
    """`ca_file`: the CA of the API's HTTPS certificate (`mpc dev --tls`), trusted by the coordinator job."""
    def job(name: str, sd: dict[str, Any]) -> dict[str, Any]:
        return {"job_name": name, "scrape_interval": interval, "scrape_timeout": interval, **sd}

    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rules if path.exists()],
        "scrape_configs": [
            job(COORDINATOR_JOB, {"static_configs": _static(coordinator),
                                  **({"tls_config": {"ca_file": str(ca_file)}} if ca_file else {})}),
            job(PARTICIPANTS_JOB, {"file_sd_configs": [{"files": [str(participants_file)], "refresh_interval": "5s"}]}),
        ],
    }


def write_targets(path: Path, targets: Sequence[Target]) -> None:
    """Atomically replace the participants' target file (Prometheus re-reads it on change)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_static(targets), indent=2))
    tmp.replace(path)


def participant_targets(nodes: Sequence[dict[str, Any]]) -> list[Target]:
    """Targets from `GET /v1/nodes` rows: every node that announced a metrics URL."""
    return [Target(n["metrics_url"], {"node": n["node_id"]}) for n in nodes if n.get("metrics_url")]


@dataclass
class PrometheusServer:
    data_dir: Path
    port: int
    coordinator: Sequence[Target]
    interval: str = "5s"
    host: str = "127.0.0.1"
    binary: str | None = None
    process: ManagedProcess | None = None
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def targets_file(self) -> Path:
        return self.data_dir / "participants.json"

    def start(self, timeout: float = 60.0) -> None:
        binary = self.binary or prometheus_binary()
        if binary is None:
            raise FileNotFoundError("prometheus is not installed (Debian: apt-get install prometheus)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.targets_file.exists():
            write_targets(self.targets_file, [])
        config = self.data_dir / "prometheus.yml"
        rendered = render_config(coordinator=self.coordinator, participants_file=self.targets_file,
                                 interval=self.interval, rules=[ALERT_RULES], ca_file=self.ca_file)
        config.write_text(yaml.safe_dump(rendered, sort_keys=False))
        argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                f"--web.listen-address={self.host}:{self.port}", "--storage.tsdb.retention.time=2d",
                "--log.level=warn"]
        self.process = ManagedProcess("prometheus", argv, log_path=self.data_dir / "logs" / "prometheus.log")
        self.process.start()
        self.process.wait_until(lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, timeout)

    def set_participants(self, targets: Sequence[Target]) -> None:
        write_targets(self.targets_file, targets)

    def wait_for_targets(self, count: int, timeout: float = 60.0) -> None:
        """Until `count` targets are up (each scraped at least once)."""
        deadline = time.monotonic() + timeout
        up: list[Any] = []
        while time.monotonic() < deadline:
            reply = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=5).json()
            up = [t for t in reply["data"]["activeTargets"] if t["health"] == "up"]
            if len(up) >= count:
                return
            time.sleep(0.5)
        raise TimeoutError(f"Prometheus sees {len(up)} of {count} targets up")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
