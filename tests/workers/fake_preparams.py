"""Fast stand-ins for `generate_preparams_line`, run in the filler's worker processes (so they live in a
module those processes import by name). Never 2048-bit prime generation in a test."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from tss.paillier.preparams import PreParams, RingPedersenSecret

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ecdsa" / "preparams.jsonl"


def fresh_from_fixture(bits: int) -> str:
    """A valid, distinct set: a committed fixture entry with t re-randomised (t·r² is still a quadratic
    residue of Ñ, so the entry passes full validation), in a few milliseconds."""
    lines = [line for line in FIXTURE.read_text().splitlines() if line.strip()]
    pre = PreParams.from_json(secrets.choice(lines), trusted=True)
    assert pre.bits == bits
    ring = pre.ring
    n = ring.n
    while True:
        r = secrets.randbelow(n - 2) + 2
        t = ring.t * r * r % n
        if 1 < t < n - 1:
            break
    return PreParams(pre.paillier, RingPedersenSecret(ring.p, ring.q, ring.lam, t), pre.bits).to_json()


def invalid(bits: int) -> str:
    """What a broken generator might return: well-formed JSON, not a valid set."""
    return json.dumps({"v": 1, "bits": bits})


def slow(bits: int) -> str:
    """A generation that takes far longer than any test: stopping must not wait for it."""
    time.sleep(600)
    return invalid(bits)
