"""Process checks shared by the worker tests."""

from __future__ import annotations

import os


def gone(pid: int) -> bool:
    """True once `pid` no longer exists (reaped, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
