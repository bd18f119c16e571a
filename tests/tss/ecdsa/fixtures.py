"""Shared loaders for the committed GG18/GG20 pre-parameters (scripts/gen_ecdsa_fixtures.py)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tss.paillier import PreParams, PreParamsPool

FIXTURE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "ecdsa"


@functools.cache
def _preparams() -> tuple[PreParams, ...]:
    loaded = PreParamsPool.loads((FIXTURE_DIR / "preparams.jsonl").read_text())
    return tuple(loaded.take() for _ in range(len(loaded)))


def preparams(i: int) -> PreParams:
    """The i-th committed pre-parameter set (0-based)."""
    return _preparams()[i]


def pool(indices: list[int]) -> PreParamsPool:
    return PreParamsPool([preparams(i) for i in indices])


def malicious() -> dict:
    return json.loads((FIXTURE_DIR / "malicious.json").read_text())


@functools.cache
def keygen_run(t: int, n: int, session: bytes = b"keygen-fixture"):
    """Full honest keygen with committed pre-parameters 0..n-1; returns {pid: KeyShare}."""
    from tests.tss.ecdsa.harness import run
    from tss.ecdsa.keygen import KeygenProtocol
    from tss.ecdsa.keyshare import KeyShare

    ids = list(range(1, n + 1))
    protos = {
        i: KeygenProtocol(session_id=session, party_id=i, party_ids=ids, threshold=t, preparams=preparams(i - 1))
        for i in ids
    }
    outs = run(protos, trace=TRACES.setdefault((t, n), {}))
    return {i: KeyShare.from_bytes(o.result) for i, o in outs.items()}, {i: o.public_result for i, o in outs.items()}


TRACES: dict = {}
"""(t, n) -> {round: (states after the round, produced messages)} of the cached honest keygen."""


def keygen_protocols(t: int, n: int, session: bytes = b"keygen-fixture"):
    from tss.ecdsa.keygen import KeygenProtocol

    ids = list(range(1, n + 1))
    return {
        i: KeygenProtocol(session_id=session, party_id=i, party_ids=ids, threshold=t, preparams=preparams(i - 1))
        for i in ids
    }
