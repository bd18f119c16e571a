"""Request and response schemas (kept apart from the database models)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NODE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_HEX32 = re.compile(r"^[0-9a-f]{64}$")


def _hex32(value: str) -> str:
    value = value.lower()
    if not _HEX32.match(value):
        raise ValueError("must be 32 bytes as 64 lower-case hex characters")
    return value


class NodeRegistration(BaseModel):
    """Sent by a participant at start; signed with its Ed25519 identity key."""

    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(pattern=NODE_ID_PATTERN)
    endpoint: str = Field(default="", max_length=256)
    signing_public_key: str
    encryption_public_key: str
    capabilities: dict[str, Any] = Field(default_factory=dict)
    version: str | None = Field(default=None, max_length=32)
    timestamp: float
    signature: str

    _keys = field_validator("signing_public_key", "encryption_public_key")(_hex32)


class NodeHeartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: float
    signature: str


class NodePublic(BaseModel):
    node_id: str
    node_type: str
    endpoint: str
    status: str
    signing_public_key: str
    encryption_public_key: str
    capabilities: dict[str, Any]
    version: str | None
    registered_at: datetime
    last_heartbeat: datetime
    seconds_since_heartbeat: float


class NodeList(BaseModel):
    nodes: list[NodePublic]
    online: int
    total: int
