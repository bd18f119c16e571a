"""Test-wide settings and the real-service fixtures (tests/services.py)."""

import os

# Deterministic RNGs are refused outside tests (tss.rng.resolve_rng); tests replay vectors with them.
os.environ.setdefault("MPC_ALLOW_TEST_RNG", "1")

pytest_plugins = ["tests.services", "tests.stack"]
