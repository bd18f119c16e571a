"""Fixtures of the integration tests that attack the participants directly (tests/integration/attacker.py)."""

from tests.integration.attacker import client, probe

__all__ = ["client", "probe"]
