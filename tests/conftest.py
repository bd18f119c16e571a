"""Test-wide settings and the real-service fixtures (tests/services.py)."""

import os
import signal

# Deterministic RNGs are refused outside tests (tss.rng.resolve_rng); tests replay vectors with them.
os.environ.setdefault("MPC_ALLOW_TEST_RNG", "1")

pytest_plugins = ["tests.services", "tests.stack"]


def pytest_configure() -> None:
    # A SIGTERM (CI timeout, `timeout`, kill) becomes KeyboardInterrupt, so pytest still runs the fixture
    # finalizers that stop every service and process the tests started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
