"""Test-wide settings."""

import os

# Deterministic RNGs are refused outside tests (tss.rng.resolve_rng); tests replay vectors with them.
os.environ.setdefault("MPC_ALLOW_TEST_RNG", "1")
