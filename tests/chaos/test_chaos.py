"""Issue 15 parts 1 and 5, the CI variant of `scripts/chaos`: signatures under load while each kind of process
is killed -9 once (a participant, the coordinator worker, the API, Temporal, PostgreSQL, Redis, OpenBao), then
nothing lost, nothing duplicated, no nonce reused, every signature verified, every failure named, and no
canary share, nonce or Paillier secret anywhere in the logs, Temporal history, Redis or the database.

Its own `mpc dev` (not the session stack: the supervisor under test is `mpc dev`'s); 2-6 minutes.
"""

from __future__ import annotations

import random

import pytest

from tests.chaos.faults import KINDS
from tests.chaos.run import ChaosConfig, run, table


@pytest.mark.timeout(600)
def test_signatures_under_kill_9_of_every_process_kind() -> None:
    seed = random.randrange(2**31)
    outcome = run(ChaosConfig(signatures=48, clients=8, cycles=1, gap=(1.0, 4.0), seed=seed,
                              round_timeout=10, session_timeout=120))
    print(f"\nseed {seed}\n{table(outcome)}")
    f = outcome.figures
    assert all(outcome.faults[kind] == 1 for kind in KINDS), outcome.faults
    assert f.accepted == f.jobs >= 48, f.problems
    assert f.completed + f.failed == f.accepted, f.problems
    assert f.completed >= f.accepted // 2, (f.completed, f.failure_causes)  # faults may fail some, not most
    assert outcome.scan is not None and outcome.scan.canaries >= 12 and outcome.scan.sources
    assert outcome.violations == [], (outcome.violations, f.problems[:20])
