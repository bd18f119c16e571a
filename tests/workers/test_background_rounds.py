"""A pool refill's presigning rounds in a niced worker process (workers/background_rounds.py): the party whose
rounds run there presigns with one that runs in-process and both agree on the presignature; the worker runs
at the lowered priority; a peer's fault raised in the worker reaches the node naming the culprit; a worker
that dies fails only its round, and the next round starts a new worker; closing kills it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import pytest

from tests.tss.ecdsa.fixtures import keygen_run
from tests.tss.ecdsa.harness import run
from tests.workers.processes import gone
from tss.ecdsa.gg20 import GG20PresignProtocol, presign_from_bytes
from tss.errors import ProtocolError
from tss.messages import RoundMessage
from tss.protocol import RoundOutput, RoundProtocol
from workers.background_rounds import BackgroundWorkerLost, NicedRounds

NICENESS = 3
SESSION = b"background-presign"
SIGNERS = [1, 2]


class InWorker:
    """Party 1 as the node drives it with NicedRounds: rebuilt from bytes in the worker every round."""

    def __init__(self, rounds: NicedRounds, rebuild: Callable[[], RoundProtocol]) -> None:
        self.rounds, self.rebuild = rounds, rebuild
        local = rebuild()
        self.total_rounds, self._initial = local.total_rounds, local.initial_state()

    def initial_state(self) -> bytes:
        return self._initial

    def run_round(self, round_no: int, state: bytes, inbound: Sequence[RoundMessage]) -> RoundOutput:
        return self.rounds.run_round(self.rebuild, round_no, state, inbound)


@pytest.fixture
def rounds() -> Iterator[NicedRounds]:
    niced = NicedRounds(NICENESS)
    try:
        yield niced
    finally:
        niced.close()


def party_1() -> Callable[[], RoundProtocol]:
    """Party 1's recipe: what the node hands the worker."""
    shares, _ = keygen_run(2, 3)
    return partial(presign_from_bytes, SESSION, shares[1].to_bytes(), SIGNERS, "key-1")


def parties(rounds: NicedRounds) -> dict[int, object]:
    shares, _ = keygen_run(2, 3)
    return {1: InWorker(rounds, party_1()),
            2: GG20PresignProtocol(session_id=SESSION, key_share=shares[2], signers=SIGNERS, key_id="key-1")}


def test_a_presign_with_one_party_in_the_worker_agrees_and_the_worker_is_niced(rounds: NicedRounds) -> None:
    outputs = run(parties(rounds))
    assert outputs[1].result and outputs[2].result  # each party's sealed part
    assert outputs[1].public_result == outputs[2].public_result  # one presignature id, R, R̄_j and S_j
    [pid] = rounds.pool.worker_pids()
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, pid) == expected
    rounds.close()
    assert rounds.pool.worker_pids() == [] and gone(pid)


def test_a_peer_fault_found_in_the_worker_names_the_culprit(rounds: NicedRounds) -> None:
    def blank_round_6_of_party_2(round_no: int, produced: list[RoundMessage]) -> list[RoundMessage]:
        if round_no != 6:
            return produced
        return [RoundMessage(m.sender, m.recipient, m.round, m.kind, json.dumps({}).encode()) if m.sender == 2 else m
                for m in produced]

    with pytest.raises(ProtocolError) as fault:
        run(parties(rounds), tamper=blank_round_6_of_party_2)
    assert fault.value.culprits == (2,) and fault.value.reason == "malformed_payload"


def test_a_dead_worker_fails_its_round_and_the_next_round_gets_a_new_one(rounds: NicedRounds) -> None:
    rebuild = party_1()
    first = rounds.run_round(rebuild, 1, rebuild().initial_state(), [])
    assert first.outbound
    [pid] = rounds.pool.worker_pids()
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while not gone(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(BackgroundWorkerLost):
        rounds.run_round(rebuild, 1, rebuild().initial_state(), [])
    again = rounds.run_round(rebuild, 1, rebuild().initial_state(), [])
    assert again.outbound and rounds.pool.worker_pids() not in ([], [pid])
