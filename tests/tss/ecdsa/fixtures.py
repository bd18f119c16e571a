"""Shared loaders for the committed GG18/GG20 pre-parameters (scripts/gen_ecdsa_fixtures.py)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tss.paillier import PreParams, PreParamsPool

FIXTURE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "ecdsa"


@functools.cache
def _preparams() -> tuple[PreParams, ...]:
    return tuple(PreParamsPool.loads((FIXTURE_DIR / "preparams.jsonl").read_text()).__dict__["_items"])


def preparams(i: int) -> PreParams:
    """The i-th committed pre-parameter set (0-based)."""
    return _preparams()[i]


def pool(indices: list[int]) -> PreParamsPool:
    return PreParamsPool([preparams(i) for i in indices])


def malicious() -> dict:
    return json.loads((FIXTURE_DIR / "malicious.json").read_text())
