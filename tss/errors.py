"""Exceptions of the `tss` package.

Every error about a peer carries the protocol ids of the culprits, so the orchestration layer can
name the node at fault (identifiable abort) without parsing message text. Messages never contain
secret values: they name what failed, not the numbers involved.
"""

from __future__ import annotations

from collections.abc import Iterable


class TssError(Exception):
    """Base class for every error raised by `tss`."""


class InvalidInputError(TssError, ValueError):
    """A local caller passed malformed or out-of-range input (not a peer's fault)."""


class EncodingError(InvalidInputError):
    """Bytes that do not decode to a valid scalar, point or message."""


class NonceReuseError(TssError):
    """A one-time nonce or presignature was asked for a second time."""


class ProtocolError(TssError):
    """A peer broke the protocol: bad proof, inconsistent share, equivocation, bad encoding.

    Attributes:
        culprits: protocol ids of the parties at fault, sorted; empty only when the fault cannot be
            attributed (the caller then aborts without naming anyone).
        reason: a stable machine-readable code, e.g. ``"invalid_share"``.
    """

    def __init__(self, reason: str, culprits: Iterable[int] = (), detail: str = "") -> None:
        self.reason = reason
        self.culprits: tuple[int, ...] = tuple(sorted(set(culprits)))
        self.detail = detail
        text = f"{reason}: culprits={list(self.culprits)}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)

    def __reduce__(self) -> tuple[type[ProtocolError], tuple[str, tuple[int, ...], str]]:
        """Pickles with its fields (a round run in another process raises it in the node's)."""
        return type(self), (self.reason, self.culprits, self.detail)


__all__ = ["EncodingError", "InvalidInputError", "NonceReuseError", "ProtocolError", "TssError"]
