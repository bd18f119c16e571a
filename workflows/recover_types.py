"""Inputs and outputs of a recovery from escrow (workflows/recover.py): public data and ciphertexts only.

Each new share travels sealed to its new holder's X25519 identity key (mpc/backup/recovered_share.py); the
manifest travels as the set holds it, so every node can check the API's signature over it itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.types import Party, ReshareRequest, SessionIntent

RECOVER_PROTOCOL = "frost-recover"
"""The session protocol of a FROST key's recovery: one import step, then the reshare's phase two. A GG18/GG20
key's recovery names its registered session protocol (`gg20-recover`), which runs after the import."""
IMPORT_STEPS = 1


@dataclass
class RecoverRequest(ReshareRequest):
    """A reshare whose dealer was the operator's offline recovery command. FROST: no dealers on the platform.
    GG18/GG20: `dealers` are t' new holders that deal from their staged shares in the `protocol` session."""

    backup_id: str = ""
    manifest: str = ""  # the set's manifest.json, base64
    manifest_signature: str = ""  # the set's manifest.sig (JSON text)
    sealed_shares: dict[str, str] = field(default_factory=dict)  # node id -> sealed share, base64
    unreachable_holders: list[str] = field(default_factory=list)
    """Old holders offline when the recovery was asked for (lost disks): not asked in the session; the catch-up
    workflow asks them to erase whatever they still hold once they are back."""


@dataclass
class ImportShareInput:
    session_id: str
    key_id: str
    epoch: int  # the key's current epoch (the intent's); the share starts epoch + 1
    new_parties: list[Party]
    new_threshold: int
    backup_id: str
    manifest: str
    manifest_signature: str
    sealed_share: str
    intent: SessionIntent | None = None


@dataclass
class ImportShareResult:
    node_id: str
    package: dict[str, Any]
    ack_digest: str
