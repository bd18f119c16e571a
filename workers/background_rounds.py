"""The presigning rounds of a GG20 pool refill, run in a niced worker process (PRESIGN_REFILL_NICENESS).

A refill starts when claims leave a key's pool at half its target, so during a burst of signatures it
runs beside them: each presigning round is hundreds of milliseconds of Paillier arithmetic per signer,
against a few milliseconds for an online signing round. In the node's own process that arithmetic holds
the GIL, and the burst's online rounds queue behind it. Here it runs in a worker process whose priority
is lowered, so the OS gives the cores to the rounds a request waits on first, and the refill uses what
they leave (bench/README.md has the figures).

Only the arithmetic moves: the node authorises the round, opens the inbound envelopes, and seals,
stores and answers the result exactly as for any round (`ParticipantRounds._answer_once`), so a retry
still gets the stored answer. What crosses the pipe to the worker (two processes of one user on one
machine, like the pre-parameter filler's) is the share's bytes, the round state and the opened inbound
messages; the worker writes nothing. A worker that dies fails its round with a retryable error, and the
next round starts a new worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool

from tss.messages import RoundMessage
from tss.protocol import RoundOutput, RoundProtocol
from workers.niced_pool import NicedProcessPool

log = logging.getLogger("mpc.participant.background")


class BackgroundWorkerLost(RuntimeError):
    """The worker process died during a round (killed, out of memory): retryable, nothing was answered."""


def _run_rebuilt(rebuild: Callable[[], RoundProtocol], round_no: int, state: bytes,
                 inbound: Sequence[RoundMessage]) -> RoundOutput:
    return rebuild().run_round(round_no, state, inbound)


class NicedRounds:
    """`activities.node_services.BackgroundRounds` on one worker process at `niceness` above the node."""

    def __init__(self, niceness: int, workers: int = 1) -> None:
        self.pool = NicedProcessPool(workers=workers, niceness=niceness)

    def run_round(self, rebuild: Callable[[], RoundProtocol], round_no: int, state: bytes,
                  inbound: Sequence[RoundMessage]) -> RoundOutput:
        """Blocks the calling thread (an activity's, never the event loop) until the worker answers."""
        try:
            return self.pool.submit(_run_rebuilt, rebuild, round_no, state, list(inbound)).result()
        except BrokenProcessPool:
            log.error("a background round worker died; the next round starts a new one")
            self.pool.close()
            raise BackgroundWorkerLost("the background round worker died; the round will be retried") from None

    def close(self) -> None:
        self.pool.close()
