"""GG20 keygen, 2-of-3 through the HTTP API on `mpc dev`, with pre-parameter pools the participants filled
themselves in the background (issue 12 part 5; target <= 4 s), optionally after a baseline commit.

    .venv/bin/python bench/bench_gg20_keygen.py [--baseline main] [--keygens 4] [--target 4]

Each side starts `mpc dev` on free loopback ports with a temporary data dir and NO seeded pools, with
PREPARAMS_POOL_TARGET=`--target`. Where the commit has the filler, the bench waits until every participant
reports a full pool (`GET /v1/nodes` pool_levels, from its signed heartbeats) and prints how long that took;
a commit without it generates the primes on the request path (the issue's "today"). Then `--keygens` GG20
keygens run one after another (`?wait=true`), the last key signs once (verified with OpenSSL), and each
participant's ``mpc_node_preparams_generated_total{path="request"}`` says whether any keygen had to
generate on its path. Every process is stopped by its pid, also on failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402
from bench_service import (  # noqa: E402
    NODES,
    Target,
    checkout,
    client,
    drop_checkout,
    head_label,
    keygen,
    sign_once,
    slug,
    start_dev_stack,
)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

POOL = "paillier_preparams"


@dataclass
class Result:
    label: str
    fill_seconds: float | None = None  # None: the commit reports no pool levels (no filler)
    keygens_ms: list[float] = field(default_factory=list)
    on_request: int | None = None
    errors: list[str] = field(default_factory=list)


def wait_filled(http: httpx.Client, target: int, timeout: float) -> float | None:
    """Seconds until every participant reports `target` sealed sets; None when nodes report no levels."""
    started = time.monotonic()
    while True:
        nodes = [n for n in http.get("/v1/nodes").json()["nodes"] if n["node_id"] in NODES]
        if nodes and all("pool_levels" not in n for n in nodes):
            return None
        levels = [(n.get("pool_levels") or {}).get(POOL, 0) for n in nodes]
        if len(levels) == len(NODES) and min(levels) >= target:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"pools not filled after {timeout:.0f} s: {levels}")
        time.sleep(0.5)


def generated_on_request(http: httpx.Client) -> int | None:
    total, seen = 0, False
    for node in http.get("/v1/nodes").json()["nodes"]:
        if node["node_id"] not in NODES or not node.get("metrics_url"):
            continue
        for family in text_string_to_metric_families(httpx.get(node["metrics_url"], timeout=5).text):
            for sample in family.samples:
                if sample.name == "mpc_node_preparams_generated_total" and sample.labels.get("path") == "request":
                    total, seen = total + int(sample.value), True
    return total if seen else None


def measure(label: str, tree: Path, args: argparse.Namespace, log_dir: Path) -> Result:
    result = Result(label)
    target = start_dev_stack(label, tree, log_dir, {"PREPARAMS_POOL_TARGET": str(args.target)}, seed=False)
    try:
        run(target, args, result)
    except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        result.errors.append(str(exc))
    finally:
        print(f"# stopping mpc dev ({label}); logs in {log_dir}", file=sys.stderr)
        assert target.process is not None
        target.process.stop(timeout=120)
        if target.data_dir is not None:
            shutil.copytree(target.data_dir / "logs", log_dir / slug(label), dirs_exist_ok=True)
            shutil.rmtree(target.data_dir, ignore_errors=True)
    return result


def run(target: Target, args: argparse.Namespace, result: Result) -> None:
    with client(target) as http:
        result.fill_seconds = wait_filled(http, args.target, args.fill_timeout)
        print(f"# {result.label}: pools filled in {result.fill_seconds} s", file=sys.stderr)
        key = None
        for _ in range(args.keygens):
            key, elapsed = keygen(http, "gg20", "secp256k1", "ethereum")
            result.keygens_ms.append(elapsed)
            print(f"# {result.label}: keygen {elapsed / 1000:.1f} s", file=sys.stderr)
        if key is not None:
            sign_once(http, key, 1)  # the last key works (RuntimeError unless the signature verifies)
        result.on_request = generated_on_request(http)


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [f"GG20 keygen 2-of-3 through the HTTP API on `mpc dev` (one 2-core machine, load average at start "
             f"{args.load}); {args.keygens} keygens one after another, PREPARAMS_POOL_TARGET={args.target}, "
             "no seeded pools. Target: <= 4 s.", "",
             "| commit | pools filled by the nodes in | keygen median | min | max | generated on the request path |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        fill = "no filler" if r.fill_seconds is None else f"{r.fill_seconds:.0f} s"
        ks = [k / 1000 for k in r.keygens_ms]
        figures = (f"{statistics.median(ks):.1f} s | {min(ks):.1f} s | {max(ks):.1f} s" if ks
                   else "failed | | ")
        on_request = "not counted" if r.on_request is None else str(r.on_request)
        lines.append(f"| {r.label} | {fill} | {figures} | {on_request} |")
    errors = [f"- {r.label}: {e}" for r in results for e in r.errors]
    return "\n".join(lines + (["", "Errors:", *errors] if errors else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=None, help="git ref to measure first (e.g. main)")
    parser.add_argument("--keygens", type=int, default=4)
    parser.add_argument("--target", type=int, default=4, help="PREPARAMS_POOL_TARGET of the stacks")
    parser.add_argument("--fill-timeout", type=float, default=600)
    parser.add_argument("--log-dir", default=None)
    args = parser.parse_args(argv)
    args.load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="mpc-bench-logs-"))
    results = []
    if args.baseline:
        tree = checkout(args.baseline)
        try:
            results.append(measure(f"{args.baseline} ({head_label(tree)})", tree, args, log_dir))
        finally:
            drop_checkout(tree)
    results.append(measure(f"this commit ({head_label(ROOT)})", ROOT, args, log_dir))
    print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
