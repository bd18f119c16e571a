"""The participant's background pre-parameter filler (workers/preparams_filler.py): it keeps the sealed pool
at its target with niced worker processes, refills after a take, never keeps a plaintext set on disk, and
kills its processes when it stops. The generator is injected (tests/workers/fake_preparams.py)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from activities.ecdsa_node import PREPARAMS_POOL, preparams_level, take_preparams
from mpc.keystore import LocalKeyWrapper, SecretStateStore
from mpc.settings import Settings
from tests.workers import fake_preparams
from tests.workers.processes import gone
from workers.preparams_filler import PreParamsFiller

TARGET = 3
POLL = 0.05


@pytest.fixture
def state(tmp_path: Path) -> SecretStateStore:
    return SecretStateStore(tmp_path / "state", LocalKeyWrapper(os.urandom(32)), "node-1")


async def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_fills_to_target_sealed_refills_after_a_take_and_stops_its_processes(state: SecretStateStore) -> None:
    filler = PreParamsFiller(state, target=TARGET, workers=2, niceness=5, poll_interval=POLL,
                             generate=fake_preparams.fresh_from_fixture)
    stop = asyncio.Event()
    task = asyncio.create_task(filler.run(stop))
    try:
        await _until(lambda: preparams_level(state) == TARGET)
        pids = filler.worker_pids()
        assert 1 <= len(pids) <= 2
        expected_nice = min(19, os.nice(0) + 5)
        assert all(os.getpriority(os.PRIO_PROCESS, pid) == expected_nice for pid in pids)

        await asyncio.sleep(20 * POLL)  # at the target it stops generating
        assert preparams_level(state) == TARGET and filler.generated == TARGET

        # Sealed: no number of the sets the pool holds is on disk in plain text.
        folder = Path(state.root) / ".once" / PREPARAMS_POOL
        blobs = b"".join(p.read_bytes() for p in folder.iterdir())
        pre = take_preparams(state)  # one of the sets those files hold
        for value in (pre.paillier.p, pre.paillier.q, pre.ring.p, pre.ring.q, pre.ring.lam, pre.ring.t):
            assert format(value, "x").encode() not in blobs
        assert not list(Path(state.root).parent.glob("*.jsonl"))

        # A take is refilled.
        assert preparams_level(state) == TARGET - 1
        await _until(lambda: preparams_level(state) == TARGET)
        assert filler.generated == TARGET + 1
        taken = {take_preparams(state).to_json() for _ in range(TARGET)}
        assert len(taken) == TARGET and pre.to_json() not in taken  # every set is distinct and used once
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert filler.worker_pids() == []
    assert all(gone(pid) for pid in pids)


async def test_stopping_kills_a_generation_in_flight(state: SecretStateStore) -> None:
    filler = PreParamsFiller(state, target=1, workers=1, poll_interval=POLL, generate=fake_preparams.slow)
    stop = asyncio.Event()
    task = asyncio.create_task(filler.run(stop))
    await _until(lambda: bool(filler.worker_pids()))
    pids = filler.worker_pids()
    await asyncio.sleep(0.5)  # the worker is inside the ten-minute generation now
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 30)
    assert time.monotonic() - started < 10
    assert all(gone(pid) for pid in pids) and preparams_level(state) == 0


async def test_an_invalid_set_is_never_sealed(state: SecretStateStore, caplog: pytest.LogCaptureFixture) -> None:
    filler = PreParamsFiller(state, target=2, workers=1, poll_interval=POLL, generate=fake_preparams.invalid)
    stop = asyncio.Event()
    task = asyncio.create_task(filler.run(stop))
    await _until(lambda: "failed validation" in caplog.text)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert preparams_level(state) == 0 and filler.generated == 0


async def test_target_zero_disables_the_filler(state: SecretStateStore) -> None:
    filler = PreParamsFiller(state, target=0, generate=fake_preparams.fresh_from_fixture)
    await asyncio.wait_for(filler.run(asyncio.Event()), 5)  # returns at once, without a stop
    assert filler.worker_pids() == [] and preparams_level(state) == 0


def test_pool_level_and_generations_are_metrics_and_heartbeat_levels(state: SecretStateStore) -> None:
    """What the node exports (``mpc_node_pool_level``, ``mpc_node_preparams_generated_total``) and what its
    heartbeat reports (`pool_levels`) count the same sealed records."""
    from types import SimpleNamespace

    from activities.ecdsa_node import PREPARAMS_FILE, import_preparams, preparams_generated_on_request
    from workers.metrics import count_pools, node_metrics, pool_levels

    lines = fake_preparams.FIXTURE.read_text().splitlines()[:2]
    (Path(state.root).parent / PREPARAMS_FILE).write_text("".join(f"{line}\n" for line in lines))
    assert import_preparams(state) == 2
    services: Any = SimpleNamespace(node_id=state.node_id, state=state)
    metrics = node_metrics(Settings(node_id=state.node_id, node_type="participant"))
    count_pools(metrics, services, lambda: 5)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("mpc_node_pool_level", pool="paillier_preparams") == 2
    assert pool_levels(services) == {"frost_nonces": 0, "gg20_presignatures": 0, "paillier_preparams": 2}
    assert sample("mpc_node_preparams_generated_total", path="background") == 5
    assert sample("mpc_node_preparams_generated_total", path="request") == preparams_generated_on_request("node-1")
    take_preparams(state)
    assert sample("mpc_node_pool_level", pool="paillier_preparams") == 1
    assert pool_levels(services)["paillier_preparams"] == 1
