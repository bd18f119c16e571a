"""The long schemathesis run behind `./scripts/schemathesis`: its own stack, every phase, a summary.

(Not named schemathesis.py: the script's directory comes first on sys.path and would shadow the package.)

It starts the whole platform the way `mpc dev` does (PostgreSQL, Redis, OpenBao, Temporal, the API, the
coordinator worker and three participants) in a fresh temporary data dir on free ports, runs
`tests/api/schemathesis_run.py` with `--examples` per operation (default 100) and a real admin token,
prints the summary, and stops every process it started by pid (also on failure or Ctrl-C). The data
dir is removed afterwards unless `--keep`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mpc.devstack.ports import free_port  # noqa: E402
from mpc.devstack.process import ManagedProcess  # noqa: E402
from mpc.devstack.stack import DevStack, DevStackConfig  # noqa: E402
from tests.api.schemathesis_run import CHECKS, WORKERS, run  # noqa: E402


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/schemathesis", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="test cases per operation and phase (100)")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis seed (default: random, printed)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"concurrent schemathesis workers ({WORKERS}; see tests/api/schemathesis_run.py)")
    parser.add_argument("--checks", default=",".join(CHECKS),
                        help="comma-separated checks, or `all` (adds positive_data_acceptance; default: CHECKS "
                             "of tests/api/schemathesis_run.py)")
    parser.add_argument("--participants", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs, report) afterwards")
    return parser.parse_args()


def _processes(stack: DevStack) -> list[ManagedProcess]:
    services = [getattr(s, "process", None) for s in stack.services]
    return [p for p in [*stack.apps, *services] if isinstance(p, ManagedProcess) and p.pid is not None]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def main() -> int:
    args = _args()
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    data_dir = Path(tempfile.mkdtemp(prefix="mpc-schemathesis-"))
    config = DevStackConfig(data_dir=data_dir, http_port=free_port(), grpc_port=free_port(), temporal_port=free_port(),
                            ui_port=free_port(), vault_port=free_port(), db_port=free_port(),
                            redis_port=free_port(), participants=args.participants, log_level="WARNING")
    stack = DevStack(config)

    def _interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    started = time.monotonic()
    result = None
    pids: list[int] = []
    try:
        stack.start()
        pids = [p.pid for p in _processes(stack) if p.pid is not None]
        token = (data_dir / "admin-token").read_text().strip()
        checks = args.checks.split(",") if args.checks != "all" else [*CHECKS, "positive_data_acceptance"]
        print(f"schemathesis: {args.examples} examples per operation, seed {seed}, checks {','.join(checks)}",
              flush=True)
        result = run(stack.api_url, token, examples=args.examples, seed=seed, workers=args.workers,
                     checks=checks, work_dir=data_dir / "schemathesis", echo=True, timeout=6 * 3600)
    except KeyboardInterrupt:
        print("schemathesis: interrupted", flush=True)
    finally:
        pids = pids or [p.pid for p in _processes(stack) if p.pid is not None]
        stack.stop()
        left = [pid for pid in pids if _alive(pid)]
        print(f"schemathesis: stopped {len(pids)} processes by pid"
              + (f"; STILL RUNNING: {left}" if left else ""), flush=True)
        if args.keep or result is None or not result.ok:
            print(f"schemathesis: data, logs and report kept in {data_dir}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    if result is None:
        return 1
    print(f"\n{result.summary()}\n  seed                {seed}\n"
          f"  total time          {time.monotonic() - started:.1f} s (stack start-up included)", flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
