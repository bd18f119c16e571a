"""In-process driver for `RoundProtocol`s: routes messages the way the workflow does."""

from __future__ import annotations

import json
from collections.abc import Callable

from tss.messages import RoundMessage
from tss.protocol import RoundOutput

Tamper = Callable[[int, list[RoundMessage]], list[RoundMessage]]


def route(produced: list[RoundMessage], pid: int) -> list[RoundMessage]:
    return [m for m in produced if m.sender != pid and (m.is_broadcast or m.recipient == pid)]


def run(protocols: dict, *, tamper: Tamper | None = None, trace: dict | None = None) -> dict[int, RoundOutput]:
    """Run all rounds; `tamper(round_no, outbound)` may rewrite what a round produced.

    `trace[round_no] = (states after the round, messages produced)` when given. Returns the last
    round's {pid: RoundOutput}.
    """
    states = {pid: p.initial_state() for pid, p in protocols.items()}
    total = next(iter(protocols.values())).total_rounds
    inbox: dict[int, list[RoundMessage]] = {pid: [] for pid in protocols}
    outputs: dict[int, RoundOutput] = {}
    for rnd in range(1, total + 1):
        produced: list[RoundMessage] = []
        for pid, proto in protocols.items():
            out = proto.run_round(rnd, states[pid], inbox[pid])
            states[pid] = out.state
            outputs[pid] = out
            produced.extend(out.outbound)
        if tamper is not None:
            produced = tamper(rnd, produced)
        if trace is not None:
            trace[rnd] = (dict(states), list(produced))
        inbox = {pid: route(produced, pid) for pid in protocols}
    return outputs


def edit(msgs: list[RoundMessage], sender: int, kind: str, fn, recipient: int | None = None) -> list[RoundMessage]:
    """Rewrite the JSON payload of `sender`'s messages of `kind` (optionally only to `recipient`)."""
    out = []
    for m in msgs:
        if m.sender == sender and m.kind == kind and (recipient is None or m.recipient == recipient):
            obj = fn(json.loads(m.payload))
            m = RoundMessage(m.sender, m.recipient, m.round, m.kind, json.dumps(obj).encode())
        out.append(m)
    return out


def payload(msgs: list[RoundMessage], sender: int, kind: str, recipient: int | None = None) -> dict:
    for m in msgs:
        if m.sender == sender and m.kind == kind and (recipient is None or m.recipient == recipient):
            return json.loads(m.payload)
    raise KeyError((sender, kind, recipient))
