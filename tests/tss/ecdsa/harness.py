"""In-process driver for `RoundProtocol`s: routes messages the way the workflow does."""

from __future__ import annotations

from collections.abc import Callable

from tss.messages import RoundMessage
from tss.protocol import RoundOutput

Tamper = Callable[[int, list[RoundMessage]], list[RoundMessage]]


def run(
    protocols: dict,
    *,
    tamper: Tamper | None = None,
    states: dict | None = None,
    start: int = 1,
    stop: int | None = None,
):
    """Run all rounds; `tamper(round_no, outbound)` may rewrite the messages produced by a round.

    Returns {pid: final RoundOutput}.
    """
    states = dict(states) if states else {pid: p.initial_state() for pid, p in protocols.items()}
    total = next(iter(protocols.values())).total_rounds
    stop = stop or total
    inbox: dict[int, list[RoundMessage]] = {pid: [] for pid in protocols}
    outputs: dict[int, RoundOutput] = {}
    for rnd in range(start, stop + 1):
        produced: list[RoundMessage] = []
        for pid, proto in protocols.items():
            out = proto.run_round(rnd, states[pid], inbox[pid])
            states[pid] = out.state
            outputs[pid] = out
            produced.extend(out.outbound)
        if tamper is not None:
            produced = tamper(rnd, produced)
        inbox = {
            pid: [m for m in produced if m.sender != pid and (m.is_broadcast or m.recipient == pid)]
            for pid in protocols
        }
    return outputs
