"""mpc/temporal_json.py decodes every payload exactly as the SDK's default converter does, resolving each
dataclass's field types once per class instead of once per value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.converter import DataConverter

from mpc import temporal_json
from mpc.temporal_json import PayloadConverter
from workflows.types import (
    AggregateBatchInput,
    ClaimCommitmentsResult,
    FrostBatchSignRequest,
    IntentApproval,
    Party,
    RoundPolicy,
    SessionIntent,
    SignFinishInput,
    SignItem,
    SignRequest,
    WireMessage,
)

SIGNERS = [Party("node-1", 1, "aa" * 32, "bb" * 32), Party("node-2", 2, "cc" * 32, "dd" * 32)]


def _wire(sender: str, n: int) -> WireMessage:
    return WireMessage(sender=sender, recipient="*", round=1, body=f'{{"n": {n}}}')


@dataclass
class WithLateField:
    name: str
    when: datetime
    choice: int | str
    optional: Party | None = None
    late: list[int] = field(init=False, default_factory=list)


def _late() -> WithLateField:
    value = WithLateField("x", datetime(2026, 12, 5, tzinfo=UTC), "text", SIGNERS[0])
    value.late = [1, 2, 3]
    return value


VALUES: list[Any] = [
    SignRequest(session_id="s", key_id="k", protocol="frost", curve="ed25519", chain_type="solana", digest="",
                signers=SIGNERS, policy=RoundPolicy(), digests=["ab" * 32, "cd" * 32],
                intent=SessionIntent("ab", "cd", [IntentApproval("ef" * 32, "01" * 64)]),
                derivation_paths=[None, "m/0/1"],
                claimed=ClaimCommitmentsResult([_wire("node-1", 1), _wire("node-2", 2)], remaining=3)),
    FrostBatchSignRequest(session_id="s", key_id="k", signers=SIGNERS,
                          items=[SignItem("ab" * 32, [_wire("node-1", i), _wire("node-2", i)]) for i in range(300)]),
    SignFinishInput(session_id="s", actor="a", signers=["node-1", "node-2"], used_pool=True,
                    batch=AggregateBatchInput("s", "k", SIGNERS, [SignItem("ab" * 32, [_wire("node-1", 0)])],
                                              [[_wire("node-1", 9), _wire("node-2", 9)]])),
    _late(),
    WithLateField("y", datetime(2026, 1, 1, tzinfo=UTC), 7),
]


def _decode(converter: Any, value: Any) -> Any:
    return converter.from_payloads(converter.to_payloads([value]), [type(value)])[0]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_decodes_exactly_as_the_sdk_default(value: Any) -> None:
    ours, sdk = _decode(PayloadConverter(), value), _decode(DataConverter.default.payload_converter, value)
    assert ours == sdk == value
    if isinstance(value, WithLateField):
        assert ours.late == value.late  # an init=False field is restored after __init__


def test_unknown_keys_are_ignored_and_a_missing_field_fails_as_in_the_sdk() -> None:
    converter, sdk = PayloadConverter(), DataConverter.default.payload_converter
    extra = converter.to_payloads([{"sender": "a", "recipient": "b", "round": 1, "body": "x", "added": 1}])
    assert converter.from_payloads(extra, [WireMessage]) == sdk.from_payloads(extra, [WireMessage])
    missing = converter.to_payloads([{"sender": "a", "recipient": "b", "round": 1}])
    for each in (converter, sdk):
        with pytest.raises(TypeError):  # WireMessage.__init__ without `body`
            each.from_payloads(missing, [WireMessage])
    wrong = converter.to_payloads([{"sender": "a", "recipient": "b", "round": "one", "body": "x"}])
    for each in (converter, sdk):
        with pytest.raises(TypeError, match="round"):
            each.from_payloads(wrong, [WireMessage])


def test_each_dataclass_has_its_field_types_resolved_once() -> None:
    temporal_json._field_types.cache_clear()
    batch = VALUES[1]
    _decode(PayloadConverter(), batch)
    info = temporal_json._field_types.cache_info()
    values = 1 + len(batch.signers) + len(batch.items) * (1 + 2)  # the request, parties, items, two wires each
    # FrostBatchSignRequest, Party, SignItem, WireMessage: resolved once each, over 903 dataclass values.
    assert (info.misses, info.hits + info.misses) == (4, values), info
