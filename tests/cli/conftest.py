"""The CLI tests run against the shared `stack` fixture (tests/stack.py): real API, coordinator worker and
participants p1..p5 on the session services. Keys here live on p1..p3."""

from __future__ import annotations

NODES = ["p1", "p2", "p3"]
