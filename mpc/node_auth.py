"""What a participant signs to register and to heartbeat (shared by the node and the API).

Domain-separated, canonical encodings: a registration signature cannot be replayed as a
heartbeat, and the API checks timestamps so old heartbeats cannot be replayed either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

OPTIONAL_FIELDS = ("metrics_url",)
"""Fields added after v1: signed when present, left out when empty, so a node that predates them (and
signed without them) still verifies."""


def registration_message(fields: Mapping[str, Any]) -> bytes:
    """Canonical JSON of every registration field except the signature (and empty optional fields)."""
    unsigned = {k: v for k, v in fields.items() if k != "signature" and not (k in OPTIONAL_FIELDS and not v)}
    return b"mpc-node-registration-v1\x00" + json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()


def heartbeat_message(node_id: str, timestamp: float) -> bytes:
    return b"mpc-node-heartbeat-v1\x00" + f"{node_id}\x00{timestamp!r}".encode()
