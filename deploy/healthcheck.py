#!/opt/venv/bin/python
"""Container health check of the mpc image (Docker HEALTHCHECK, Kubernetes exec probes).

The role is read from the container's command line (PID 1, as tini started it):
- HTTP roles (`api`, or `serve` with NODE_TYPE coordinator/api): GET /health (with --ready: /ready)
  on 127.0.0.1:HTTP_PORT, HTTPS when TLS_ENABLED (the certificate is not verified: loopback).
- workers (`worker ...`, or `serve` with NODE_TYPE participant): the worker process is alive and,
  with --ready, the Temporal frontend (TEMPORAL_ADDRESS) accepts connections.
- one-shot commands (`migrate`, `tokens`, ...): always healthy.
Settings as the processes read them: environment variable, else the YAML config file (MPC_CONFIG or
/etc/mpc/config.yaml, sectioned or flat keys), else the default. Standard library and PyYAML only (no
project import), so it starts fast. Exit 0 healthy, 1 not.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import urllib.request
from pathlib import Path

TIMEOUT = 4.0
SUBCOMMANDS = {"serve", "api", "worker", "migrate", "tokens", "dev"}


def command_line(pid: int = 1) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def role(argv: list[str], node_type: str) -> str:
    """'http', 'worker' or 'oneshot' from the container command (after tini and the entry point)."""
    words = [os.path.basename(a) for a in argv]
    sub = next((w for w in words if w in SUBCOMMANDS), "serve" if any("mpc-entrypoint" in w for w in words) else "")
    if sub == "api" or (sub == "serve" and node_type in ("coordinator", "api")):
        return "http"
    if sub == "worker" or (sub == "serve" and node_type == "participant"):
        return "worker"
    return "oneshot"


def _config_file() -> dict:
    path = Path(os.environ.get("MPC_CONFIG", "/etc/mpc/config.yaml"))
    try:
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
    except Exception:  # no file, no PyYAML, bad YAML: the process itself reports that
        return {}
    return data if isinstance(data, dict) else {}


def setting(name: str, section: str, key: str, default: str) -> str:
    """NAME from the environment, else `section.key` or flat `name` from the config file, else default."""
    if name in os.environ:
        return os.environ[name]
    config = _config_file()
    value = (config.get(section) or {}).get(key) if isinstance(config.get(section), dict) else None
    if value is None:
        value = config.get(name.lower())
    return default if value is None else str(value)


def check_http(path: str) -> bool:
    tls = setting("TLS_ENABLED", "tls", "enabled", "false").lower() in ("1", "true", "yes", "on")
    scheme = "https" if tls else "http"
    port = setting("HTTP_PORT", "server", "http_port", "8080")
    context = ssl._create_unverified_context() if scheme == "https" else None  # noqa: S323 - loopback probe
    try:
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}{path}", timeout=TIMEOUT,  # noqa: S310
                                    context=context) as reply:
            return reply.status == 200
    except Exception:
        return False


def worker_alive() -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            argv = command_line(int(entry.name))
            if any(os.path.basename(a) == "mpc" for a in argv) and ("worker" in argv or "serve" in argv):
                try:
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                except (OSError, IndexError):
                    continue
                if state != "Z":
                    return True
    return False


def temporal_reachable() -> bool:
    address = setting("TEMPORAL_ADDRESS", "temporal", "address", "127.0.0.1:7233")
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=TIMEOUT):
            return True
    except (OSError, ValueError):
        return False


def main(args: list[str]) -> int:
    ready = "--ready" in args
    kind = role(command_line(1), setting("NODE_TYPE", "node", "type", "coordinator").lower())
    if kind == "http":
        ok = check_http("/ready" if ready else "/health")
    elif kind == "worker":
        ok = worker_alive() and (not ready or temporal_reachable())
    else:
        ok = True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
