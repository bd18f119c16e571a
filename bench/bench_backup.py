"""Backup and restore wall time for N keys, and the set's size (issue 11, "Measure").

Starts a 3-participant `mpc dev` on free loopback ports and a temporary data dir, with a recovery key
(share escrow on), makes N FROST ed25519 2-of-3 keys through the API, then times: `POST /v1/backups` until
the run completed (pg_dump, every node's .meta files, one escrow per holder and key, manifest, signature),
`mpc backup verify SET --recovery-key` (offline: every file's SHA-256, every escrowed share decrypted and
checked, t shares interpolated per key), and `mpc backup restore SET` into the running database. Prints a
markdown table and stops the stack by its pid (also on failure):

    .venv/bin/python bench/bench_backup.py --keys 100
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import httpx  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402

from mpc.backup.escrow import public_hex_of  # noqa: E402
from mpc.devstack.ports import free_port  # noqa: E402
from mpc.devstack.process import ManagedProcess  # noqa: E402


def start_stack(data_dir: Path, log_dir: Path, recipient: str) -> tuple[ManagedProcess, dict[str, int], str]:
    ports = {name: free_port() for name in ("http", "temporal", "ui", "vault", "db", "redis")}
    argv = [sys.executable, "-m", "mpc", "dev", "--data-dir", str(data_dir), "--participants", "3"]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    env = {**os.environ, "BACKUP_RECOVERY_PUBLIC_KEY": recipient, "BACKUP_SCHEDULE": ""}
    process = ManagedProcess("mpc-dev-backup", argv, log_path=log_dir / "mpc-dev-backup.log", cwd=ROOT, env=env)
    process.start()
    process.wait_until(lambda: "mpc dev is ready" in process.log_path.read_text(errors="replace"), 300, 0.5)
    return process, ports, (data_dir / "admin-token").read_text().strip()


def make_keys(http: httpx.Client, count: int) -> None:
    def one(_: int) -> None:
        reply = http.post("/v1/keys?wait=true", json={"protocol": "frost", "chain_type": "ed25519", "threshold": 2,
                                                      "total_nodes": 3}, timeout=600)
        if reply.status_code != 200 or reply.json().get("status") != "completed":
            raise RuntimeError(f"keygen: {reply.status_code} {reply.text[:300]}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(count)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=100)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="mpc-bench-backup-"))
    log_dir = Path(tempfile.mkdtemp(prefix="mpc-bench-backup-logs-"))
    recovery = X25519PrivateKey.generate()
    key_file = data_dir.parent / f"{data_dir.name}-recovery.key"
    key_file.write_text(recovery.private_bytes_raw().hex())
    process, ports, token = start_stack(data_dir, log_dir, public_hex_of(recovery))
    figures: dict[str, str] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['http']}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            started = time.perf_counter()
            make_keys(http, args.keys)
            print(f"# {args.keys} keys made in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            started = time.perf_counter()
            run = http.post("/v1/backups").json()
            while (session := http.get(f"/v1/sessions/{run['session_id']}").json())["status"] not in (
                    "completed", "failed"):
                time.sleep(0.1)
            figures["backup (API, until completed)"] = f"{time.perf_counter() - started:.2f} s"
            if session["status"] != "completed":
                raise RuntimeError(f"backup failed: {session['error']}")
            backup = http.get(f"/v1/backups/{run['backup_id']}").json()
        figures["set size"] = f"{backup['size_bytes'] / 1024:.0f} KiB in {backup['file_count']} files"
        figures["backup duration (recorded)"] = f"{backup['duration_ms'] / 1000:.2f} s"
        env = {**os.environ, "MPC_CONFIG": str(data_dir / "no-config.yaml"), "DB_HOST": "127.0.0.1",
               "DB_PORT": str(ports["db"]), "DB_NAME": "mpc", "DB_USER": "postgres",
               "BACKUP_DIR": str(data_dir / "backups"), "INTENT_TRUSTED_KEYS": backup["signed_by"]}
        for name, command in (("verify --recovery-key (offline)",
                               ["backup", "verify", run["backup_id"], "--recovery-key", str(key_file)]),
                              ("restore (psql, one transaction)", ["backup", "restore", run["backup_id"], "--yes"])):
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "mpc", *command], env=env, capture_output=True, text=True,
                                    check=False)
            if result.returncode != 0:
                raise RuntimeError(f"{name}: {result.stderr[-500:]}")
            figures[name] = f"{time.perf_counter() - started:.2f} s"
    finally:
        process.stop(timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)
        key_file.unlink(missing_ok=True)
    print(f"\n`.venv/bin/python bench/bench_backup.py --keys {args.keys}` (mpc dev, 3 participants, FROST ed25519 "
          "2-of-3 keys, escrow on)\n")
    print("| measure | value |\n| --- | --- |")
    for name, value in figures.items():
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
