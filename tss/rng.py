"""Randomness sources.

Protocol code never imports `random`: it takes an `Rng`. Production passes nothing and gets
`SystemRng` (backed by `secrets`). Tests may pass a `FixedRng` to replay published vectors; it is
refused unless explicitly allowed, so a deterministic source cannot slip into a production path
by accident (SECURITY.md H1).
"""

from __future__ import annotations

import os
import secrets
from typing import Protocol, runtime_checkable


@runtime_checkable
class Rng(Protocol):
    """What protocol code needs from a randomness source."""

    def token_bytes(self, n: int) -> bytes: ...

    def randbelow(self, upper: int) -> int: ...


class SystemRng:
    """Operating-system randomness through `secrets` (the only production source)."""

    def token_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)

    def randbelow(self, upper: int) -> int:
        return secrets.randbelow(upper)


class FixedRng:
    """Replays given bytes, for test vectors only. Raises when exhausted."""

    def __init__(self, data: bytes = b"", *, chunks: list[bytes] | None = None) -> None:
        self._buffer = bytearray(data)
        self._chunks = list(chunks or [])

    def token_bytes(self, n: int) -> bytes:
        if self._chunks:
            chunk = self._chunks.pop(0)
            if len(chunk) != n:
                raise ValueError(f"FixedRng chunk has {len(chunk)} bytes, {n} requested")
            return chunk
        if len(self._buffer) < n:
            raise ValueError("FixedRng exhausted")
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def randbelow(self, upper: int) -> int:
        # Rejection sampling over the replayed bytes keeps the distribution uniform.
        nbytes = (upper.bit_length() + 7) // 8 + 8
        while True:
            value = int.from_bytes(self.token_bytes(nbytes), "big")
            limit = (1 << (8 * nbytes)) - ((1 << (8 * nbytes)) % upper)
            if value < limit:
                return value % upper


_TEST_RNG_ENV = "MPC_ALLOW_TEST_RNG"


def resolve_rng(rng: Rng | None) -> Rng:
    """Return the source to use: `SystemRng` by default; a non-system source only in tests.

    Tests opt in by setting ``MPC_ALLOW_TEST_RNG=1`` (tests/conftest.py does).
    """
    if rng is None or isinstance(rng, SystemRng):
        return rng or SystemRng()
    if os.environ.get(_TEST_RNG_ENV) != "1":
        raise PermissionError("a non-system RNG is only accepted in test builds (set MPC_ALLOW_TEST_RNG=1)")
    return rng


__all__ = ["FixedRng", "Rng", "SystemRng", "resolve_rng"]
