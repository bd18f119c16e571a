#!/opt/venv/bin/python
"""Container health check of the mpc image (Docker HEALTHCHECK, Kubernetes exec probes).

The role is read from the container's command line (PID 1, as tini started it):
- HTTP roles (`api`, or `serve` with NODE_TYPE coordinator/api): GET /health (with --ready: /ready)
  on 127.0.0.1:HTTP_PORT, HTTPS when TLS_ENABLED (the certificate is not verified: loopback).
- workers (`worker ...`, or `serve` with NODE_TYPE participant): the worker process is alive and,
  with --ready, the Temporal frontend (TEMPORAL_ADDRESS) accepts connections.
- one-shot commands (`migrate`, `tokens`, ...): always healthy.
Standard library only, so it starts fast. Exit 0 healthy, 1 not.
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


def check_http(path: str) -> bool:
    scheme = "https" if os.environ.get("TLS_ENABLED", "").lower() in ("1", "true", "yes", "on") else "http"
    port = os.environ.get("HTTP_PORT", "8080")
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
    host, _, port = os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=TIMEOUT):
            return True
    except (OSError, ValueError):
        return False


def main(args: list[str]) -> int:
    ready = "--ready" in args
    kind = role(command_line(1), os.environ.get("NODE_TYPE", "coordinator").lower())
    if kind == "http":
        ok = check_http("/ready" if ready else "/health")
    elif kind == "worker":
        ok = worker_alive() and (not ready or temporal_reachable())
    else:
        ok = True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
