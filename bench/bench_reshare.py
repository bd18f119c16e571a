"""Refresh and reshare wall time through the HTTP API on `mpc dev` (issue 10, "Measure").

One command starts a 5-participant `mpc dev` stack on free loopback ports and a temporary data dir,
seeds each participant's pre-parameter pool from the test fixtures (so GG20 keygen, refresh and
reshare never generate primes on the request path: "filled pools"), runs the operations below with
`?wait=true`, checks every key still signs and verifies after each, prints a markdown table and
stops the stack by its pid (also on failure):

    .venv/bin/python bench/bench_reshare.py --repeats 3

| operation | what runs |
| --- | --- |
| FROST refresh 2-of-3 | every holder re-deals (3 rounds), ACKs, test signature, activation, erasure |
| FROST reshare 2-of-3 -> 3-of-5 | 2 dealers, 5 new holders |
| FROST reshare 3-of-5 -> 2-of-3 | 3 dealers, 3 new holders; 2 old holders erase |
| GG20 refresh 2-of-3 | tss.ecdsa reshare to the same committee (fresh Paillier keys), GG20 test signature |

The fixture pre-parameters are public test material: never use this data dir for real keys.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402

from mpc.devstack.ports import free_port  # noqa: E402
from mpc.devstack.process import ManagedProcess  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "ecdsa" / "preparams.jsonl"
NODES = [f"node-{i}" for i in range(1, 6)]


def seed_pools(data_dir: Path) -> None:
    lines = [line for line in FIXTURE.read_text().splitlines() if line.strip()]
    per_node = len(lines) // len(NODES)
    for i, node in enumerate(NODES):
        folder = data_dir / "nodes" / node / "shares"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / "preparams.jsonl"
        target.touch(mode=0o600)
        target.write_text("".join(f"{line}\n" for line in lines[i * per_node:(i + 1) * per_node]))


def start_stack(data_dir: Path, log_dir: Path) -> tuple[ManagedProcess, str, str]:
    ports = {name: free_port() for name in ("http", "temporal", "ui", "vault", "db", "redis")}
    argv = [sys.executable, "-m", "mpc", "dev", "--data-dir", str(data_dir), "--participants", str(len(NODES))]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    process = ManagedProcess("mpc-dev-reshare", argv, log_path=log_dir / "mpc-dev-reshare.log", cwd=ROOT)
    process.start()
    process.wait_until(lambda: "mpc dev is ready" in process.log_path.read_text(errors="replace"), 300, 0.5)
    return process, f"http://127.0.0.1:{ports['http']}", (data_dir / "admin-token").read_text().strip()


def timed(http: httpx.Client, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    reply = http.post(f"{path}?wait=true", json=body, timeout=600)
    elapsed = time.perf_counter() - started
    session = reply.json()
    if reply.status_code != 200 or session.get("status") != "completed":
        raise RuntimeError(f"{path}: {reply.status_code} {session}")
    return session, elapsed


def signs(http: httpx.Client, key_id: str, signers: list[str]) -> None:
    digest = hashlib.sha256(f"{key_id} {time.time()}".encode()).hexdigest()
    session, _ = timed(http, f"/v1/keys/{key_id}/sign", {"digest": digest, "signers": signers})
    if not session.get("signature"):
        raise RuntimeError(f"no signature from {signers}")


def run(http: httpx.Client, repeats: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        figures.setdefault(name, []).append(seconds)
        print(f"# {name}: {seconds:.2f} s", file=sys.stderr)

    for _ in range(repeats):
        key, _t = timed(http, "/v1/keys", {"protocol": "frost", "chain_type": "ed25519", "threshold": 2,
                                          "nodes": NODES[:3]})
        key_id = key["key_id"]
        record("FROST refresh 2-of-3", timed(http, f"/v1/keys/{key_id}/refresh", {})[1])
        signs(http, key_id, NODES[:2])
        record("FROST reshare 2-of-3 -> 3-of-5",
               timed(http, f"/v1/keys/{key_id}/reshare", {"threshold": 3, "nodes": NODES})[1])
        signs(http, key_id, NODES[2:])
        record("FROST refresh 3-of-5", timed(http, f"/v1/keys/{key_id}/refresh", {})[1])
        record("FROST reshare 3-of-5 -> 2-of-3",
               timed(http, f"/v1/keys/{key_id}/reshare", {"threshold": 2, "nodes": NODES[:3]})[1])
        signs(http, key_id, NODES[1:3])
    ecdsa, _t = timed(http, "/v1/keys", {"protocol": "gg20", "chain_type": "ethereum", "threshold": 2,
                                        "nodes": NODES[:3], "allow_raw_digest": True})  # it signs bare digests
    for _ in range(min(repeats, 2)):  # two pre-parameter sets per node remain for GG20
        record("GG20 refresh 2-of-3", timed(http, f"/v1/keys/{ecdsa['key_id']}/refresh", {})[1])
        signs(http, ecdsa["key_id"], NODES[:2])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each FROST operation (median)")
    parser.add_argument("--log-dir", default=None, help="mpc dev log (default: a temporary directory)")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="mpc-bench-reshare-"))
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="mpc-bench-reshare-logs-"))
    seed_pools(data_dir)
    process, url, token = start_stack(data_dir, log_dir)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            figures = run(http, args.repeats)
    finally:
        process.stop(timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\n`.venv/bin/python bench/bench_reshare.py --repeats {args.repeats}` (mpc dev, 5 participants)\n")
    print("| operation | runs | median s | min s | max s |\n| --- | ---: | ---: | ---: | ---: |")
    for name, values in figures.items():
        print(f"| {name} | {len(values)} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
