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


def heartbeat_message(node_id: str, timestamp: float, pool_levels: Mapping[str, int] | None = None) -> bytes:
    """What a heartbeat signs. With `pool_levels` (issue 12 part 5) they are signed too, under v2 with their
    canonical JSON; without (a node that predates them, or nothing to report) the message is v1 as before."""
    if not pool_levels:
        return b"mpc-node-heartbeat-v1\x00" + f"{node_id}\x00{timestamp!r}".encode()
    levels = json.dumps(dict(pool_levels), sort_keys=True, separators=(",", ":"))
    return b"mpc-node-heartbeat-v2\x00" + f"{node_id}\x00{timestamp!r}\x00{levels}".encode()
