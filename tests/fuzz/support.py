"""Shared machinery of the peer-message fuzzer: settings, mutations, the round property, the corpus.

A *mutation* is plain JSON data (so a failing case can be written to `corpus/regressions.json` and
replayed forever): ``{"op": ..., ...}``, applied to one message payload by `apply`.

- binary payloads (FROST, signed commitment bodies, envelopes as text): ``flip`` (one bit),
  ``truncate``, ``extend``, ``splice`` (overwrite bytes at an offset), ``replace`` (whole payload);
- JSON payloads (ECDSA rounds, commitment bodies): the same byte-level ops on the serialised text, and
  ``set`` (a value at a path; ``{"raw": text}`` puts literal JSON text there, e.g. a 5,000-digit
  integer, ``NaN`` or ``1e999``), ``delete`` (a key or list item), ``hexflip`` (one hex digit of a string
  leaf), ``strcut`` (a string leaf cut short), ``dup`` (a list item repeated).

`round_property` is the property every round decoder must satisfy for a mutated message from
`sender`: the round succeeds, or raises `ProtocolError` whose culprits are exactly the sender (or, for
the documented unattributable view disagreements, nobody; an echo mismatch may name the dealers whose
broadcast the sender's echo disputes, with the sender among the disagreeing parties). Anything else
(`KeyError`, `TypeError`, a bare `ValueError`, an `EncodingError` or `InvalidInputError` that would be
read as the caller's fault, naming no one) is a crash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

from tss.errors import ProtocolError
from tss.messages import RoundMessage

CORPUS = Path(__file__).resolve().parent / "corpus"
SCALE = max(1, int(os.environ.get("MPC_FUZZ_SCALE", "1")))
"""Multiplier of every example budget; `scripts/fuzz` raises it (default 1: the bounded CI run)."""

_db = DirectoryBasedExampleDatabase(str(CORPUS / "hypothesis"))
DATABASE = _db if os.environ.get("MPC_FUZZ_SAVE") == "1" else ReadOnlyDatabase(_db)
"""Failing examples found by `scripts/fuzz` are saved under corpus/hypothesis and replayed by every run."""


def fuzz(examples: int) -> settings:
    """Settings of one fuzz test: `examples` (times MPC_FUZZ_SCALE), no deadline, the repo's corpus."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=DATABASE,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# ---- corpus of regression cases -------------------------------------------------------------------
def regressions(target: str) -> list[dict[str, Any]]:
    """The recorded cases of `target` (each a crash found and fixed, or a seed worth keeping)."""
    cases = json.loads((CORPUS / "regressions.json").read_text())
    return [c for c in cases if c["target"] == target]


def case_id(case: dict[str, Any]) -> str:
    return case.get("id") or json.dumps(case["mutation"], sort_keys=True)[:60]


# ---- mutations ----------------------------------------------------------------------------------
Q_SECP = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P_SECP = 2**256 - 2**32 - 977
L_ED = 2**252 + 27742317777372353535851937790883648493

NASTY_BYTES = [
    b"",
    b"\x00" * 32,
    b"\xff" * 32,
    b"\x02" + b"\xff" * 32,  # x >= p: not a point
    b"\x02" + b"\x00" * 32,  # x = 0: not on secp256k1
    b"\x00" * 33,
    Q_SECP.to_bytes(32, "big"),
    L_ED.to_bytes(32, "little"),
    (1).to_bytes(32, "little"),  # Ed25519 identity
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # Ed25519 order-8 point
    b"\x01" * 1000,
]

NASTY_JSON: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**64,
    -(2**300),
    2**2048 + 1,
    1.5,
    "",
    "-",
    "-1",
    "0",
    "zz",
    "0x10",
    " 1",
    "é",
    "\ud800",
    "\x00",
    "f" * 5000,
    "02" + "ff" * 32,
    "02" + "00" * 32,
    "00" * 33,
    format(Q_SECP, "x"),
    format(Q_SECP + 1, "x"),
    format(P_SECP, "x"),
    [],
    {},
    [0],
    ["00"],
    [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],
    {"": None},
    {"raw": "1" * 5000},
    {"raw": "NaN"},
    {"raw": "-Infinity"},
    {"raw": "1e999"},
    {"raw": "[" * 2000 + "]" * 2000},
]
_RAW = "\u0000raw-json\u0000"


def _json_value() -> st.SearchStrategy[Any]:
    leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
    return st.sampled_from(NASTY_JSON) | st.recursive(
        leaf, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
        max_leaves=6,
    )


def byte_mutation(data: st.DataObject, payload: bytes) -> dict[str, Any]:
    n = len(payload)
    op = data.draw(st.sampled_from(["flip", "flip", "truncate", "extend", "splice", "replace"]), label="op")
    if op == "flip" and n:
        return {"op": "flip", "bit": data.draw(st.integers(0, 8 * n - 1), label="bit")}
    if op == "truncate" and n:
        return {"op": "truncate", "len": data.draw(st.integers(0, n - 1), label="len")}
    if op == "splice" and n:
        chunk = data.draw(st.sampled_from(NASTY_BYTES[1:10]) | st.binary(min_size=1, max_size=40), label="chunk")
        return {"op": "splice", "at": data.draw(st.integers(0, n - 1), label="at"), "data": chunk.hex()}
    if op == "extend":
        return {"op": "extend", "data": data.draw(st.binary(min_size=1, max_size=70), label="tail").hex()}
    return {"op": "replace", "data": data.draw(st.sampled_from(NASTY_BYTES) | st.binary(max_size=100)).hex()}


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k in sorted(obj):
            out += _paths(obj[k], (*prefix, k))
    elif isinstance(obj, list):
        # long proof vectors: the first, second and last entries stand for all of them
        idx = sorted({0, 1, len(obj) - 1} & set(range(len(obj))))
        for i in idx:
            out += _paths(obj[i], (*prefix, i))
    return out


def _get(obj: Any, path: Sequence) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def json_mutation(data: st.DataObject, payload: bytes) -> dict[str, Any]:
    """A structural mutation of a JSON payload (or a byte-level one, one time in five)."""
    try:
        obj = json.loads(payload)
    except ValueError:
        return byte_mutation(data, payload)
    if data.draw(st.integers(0, 4), label="bytes?") == 0:
        return byte_mutation(data, payload)
    paths = _paths(obj)
    path = list(data.draw(st.sampled_from(paths[1:] or paths), label="path"))
    target = _get(obj, path)
    ops = ["set", "set", "delete"] if path else ["set"]
    if isinstance(target, str) and target:
        ops += ["hexflip", "hexflip", "strcut"]
    if isinstance(target, list) and target:
        ops += ["dup"]
    op = data.draw(st.sampled_from(ops), label="op")
    if op == "set":
        return {"op": "set", "path": path, "value": data.draw(_json_value(), label="value")}
    if op == "hexflip":
        return {"op": "hexflip", "path": path, "index": data.draw(st.integers(0, len(target) - 1), label="index")}
    if op == "strcut":
        return {"op": "strcut", "path": path, "len": data.draw(st.integers(0, len(target) - 1), label="len")}
    return {"op": op, "path": path}


def apply(payload: bytes, m: dict[str, Any]) -> bytes:
    """The payload after mutation `m` (see the module docstring)."""
    op = m["op"]
    if op == "flip":
        out = bytearray(payload)
        out[m["bit"] // 8] ^= 1 << (m["bit"] % 8)
        return bytes(out)
    if op == "truncate":
        return payload[: m["len"]]
    if op == "extend":
        return payload + bytes.fromhex(m["data"])
    if op == "splice":
        chunk = bytes.fromhex(m["data"])
        return payload[: m["at"]] + chunk + payload[m["at"] + len(chunk) :]
    if op == "replace":
        return bytes.fromhex(m["data"])
    obj = json.loads(payload)
    path = m["path"]
    if op == "set":
        value = m["value"]
        raw = isinstance(value, dict) and set(value) == {"raw"}
        if not path:
            obj = _RAW if raw else value
        else:
            _get(obj, path[:-1])[path[-1]] = _RAW if raw else value
        text = _dump(obj)
        return text.replace(json.dumps(_RAW).encode(), value["raw"].encode()) if raw else text
    parent, last = _get(obj, path[:-1]), path[-1]
    if op == "delete":
        del parent[last]
    elif op == "hexflip":
        s, i = parent[last], m["index"]
        parent[last] = s[:i] + ("1" if s[i] != "1" else "2") + s[i + 1 :]
    elif op == "strcut":
        parent[last] = parent[last][: m["len"]]
    elif op == "dup":
        parent[last] = [*parent[last], parent[last][0]]
    return _dump(obj)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# ---- the round property -----------------------------------------------------------------------------
UNATTRIBUTED = {
    # a well-formed echo that differs from ours: the sender lying or another party equivocating; only
    # the signed copies kept outside `tss` tell which
    "broadcast_inconsistent",
    # aggregate checks over every party's values, which these protocols cannot attribute (a well-formed
    # but wrong value makes them fail; nothing secret is released): GG18 phase 5 and its final
    # signature, GG20's Σ R̄ = G and Σ S = Y (identification protocol not implemented, gg20.py),
    # a zero δ or nonce
    "phase5_check_failed",
    "degenerate_phase5",
    "invalid_signature",
    "rbar_check_failed",
    "sigma_check_failed",
    "degenerate_delta",
    "degenerate_nonce",
}
"""Reasons raised, by design, without a culprit. A *malformed* message never gets one of these."""


def check_protocol_error(exc: ProtocolError, sender: int) -> None:
    if exc.reason == "broadcast_mismatch":  # FROST echo: names disputed dealers; sender among the disagreeing
        disagreeing = getattr(exc, "disagreeing", {})
        assert any(sender in ks for ks in disagreeing.values()) or exc.culprits == (sender,), exc
        return
    if exc.reason in UNATTRIBUTED:
        assert exc.culprits in ((), (sender,)), exc
        return
    assert exc.culprits == (sender,), f"a fault in {sender}'s message named {exc.culprits}: {exc}"


def round_property(run: Callable[[], Any], sender: int) -> str:
    """Run one round with a mutated message from `sender`; return the outcome ("ok" or the reason)."""
    try:
        run()
    except ProtocolError as exc:
        check_protocol_error(exc, sender)
        return exc.reason
    return "ok"


def mutate_inbound(inbound: list[RoundMessage], index: int, mutation: dict[str, Any]) -> list[RoundMessage]:
    msg = inbound[index]
    changed = RoundMessage(msg.sender, msg.recipient, msg.round, msg.kind, apply(msg.payload, mutation))
    return [*inbound[:index], changed, *inbound[index + 1 :]]
