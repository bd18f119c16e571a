"""The scheduling of coalesced sign requests (api/coalesce.py), with a launch that records what it was given."""

from __future__ import annotations

import asyncio

import pytest

from api.coalesce import GroupKey, Launched, SignCoalescer, Waiting

GROUP: GroupKey = ("key-1", "wallet")


class FakeLaunch:
    """Starts nothing: records each batch and lets the test end its session (`finish`)."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.sessions: list[asyncio.Future[None]] = []
        self.fail_with = fail_with

    async def __call__(self, group: GroupKey, batch: list[Waiting[str]]) -> Launched[str]:
        assert group == GROUP
        self.batches.append([w.session_id for w in batch])
        if self.fail_with is not None:
            raise self.fail_with
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sessions.append(ended)
        return Launched({w.session_id: f"batch{len(self.batches)}:{w.digest}" for w in batch}, ended)

    def finish(self, index: int) -> None:
        self.sessions[index].set_result(None)


async def settle() -> None:
    await asyncio.sleep(0.05)  # longer than the gathering window used below


def coalescer(launch: FakeLaunch, **options: float) -> SignCoalescer[str]:
    return SignCoalescer(launch, gather_seconds=0.01, **options)  # type: ignore[arg-type]


async def test_a_request_with_nothing_running_starts_alone_at_once() -> None:
    launch = FakeLaunch()
    signing = coalescer(launch)
    release = signing.reserve(GROUP)
    assert release is not None and signing.in_flight(GROUP) == 1
    release()
    release()  # a second release is harmless
    assert signing.in_flight(GROUP) == 0
    assert signing.reserve(GROUP) is not None and launch.batches == []  # the caller starts its own session


async def test_requests_that_come_while_one_runs_start_together() -> None:
    launch = FakeLaunch()
    signing = coalescer(launch, max_in_flight=1)
    release = signing.reserve(GROUP)
    assert release is not None
    assert signing.reserve(GROUP) is None  # busy: the next ones wait
    waiting = [asyncio.create_task(signing.enqueue(GROUP, f"s{i}", f"d{i}")) for i in range(3)]
    await settle()
    assert launch.batches == []  # nothing starts while the slot is held
    release()
    answers = await asyncio.gather(*waiting)
    assert launch.batches == [["s0", "s1", "s2"]]
    assert answers == ["batch1:d0", "batch1:d1", "batch1:d2"]  # each request its own answer
    late = asyncio.create_task(signing.enqueue(GROUP, "s3", "d3"))  # the batch runs: this one waits for it
    await settle()
    assert len(launch.batches) == 1
    launch.finish(0)
    assert await late == "batch2:d3"


async def test_a_second_slot_starts_the_waiting_requests_after_the_gathering_window() -> None:
    launch = FakeLaunch()
    signing = coalescer(launch, max_in_flight=2)
    assert signing.reserve(GROUP) is not None
    first = asyncio.create_task(signing.enqueue(GROUP, "s0", "d0"))
    await asyncio.sleep(0.002)
    second = asyncio.create_task(signing.enqueue(GROUP, "s1", "d1"))  # within the window: same batch
    await asyncio.gather(first, second)
    assert launch.batches == [["s0", "s1"]] and signing.in_flight(GROUP) == 2


async def test_a_batch_holds_at_most_max_batch_requests() -> None:
    launch = FakeLaunch()
    signing = coalescer(launch, max_in_flight=2, max_batch=2)
    release = signing.reserve(GROUP)
    assert release is not None
    waiting = [asyncio.create_task(signing.enqueue(GROUP, f"s{i}", f"d{i}")) for i in range(5)]
    await settle()
    assert launch.batches == [["s0", "s1"]]  # one slot left: one batch of two
    release()
    await settle()
    assert launch.batches == [["s0", "s1"], ["s2", "s3"]]
    launch.finish(0)
    await settle()
    assert launch.batches[-1] == ["s4"]
    assert len(await asyncio.gather(*waiting)) == 5


async def test_a_launch_that_fails_fails_every_request_of_its_batch_and_frees_the_slot() -> None:
    launch = FakeLaunch(fail_with=RuntimeError("temporal down"))
    signing = coalescer(launch, max_in_flight=1)
    release = signing.reserve(GROUP)
    assert release is not None
    waiting = [asyncio.create_task(signing.enqueue(GROUP, f"s{i}", f"d{i}")) for i in range(2)]
    await settle()
    release()
    for task in waiting:
        with pytest.raises(RuntimeError, match="temporal down"):
            await task
    assert signing.in_flight(GROUP) == 0
    assert signing.reserve(GROUP) is not None


async def test_groups_do_not_wait_for_each_other() -> None:
    launch = FakeLaunch()
    signing = coalescer(launch, max_in_flight=1)
    assert signing.reserve(GROUP) is not None
    assert signing.reserve(("key-2", "wallet")) is not None
    assert signing.reserve(("key-1", "another caller")) is not None
