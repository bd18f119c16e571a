"""Session ids that no single party picks (SECURITY.md S1).

Each party contributes 16 fresh random bytes in a signed hello; the ssid hashes the protocol, key,
roster (node ids and identity keys, in party order), threshold, workflow id and every
contribution, so two honest parties agree on it exactly when they saw the same session.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from activities.node_services import violation
from workflows.types import Party

SSID_TAG = b"mpc-signer/ssid"
SSID_VERSION = 1
CONTRIBUTION_BYTES = 16


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def hello_ssid(workflow_id: str, session_id: str, protocol: str) -> bytes:
    """The provisional id the hello envelopes are bound to (before contributions are known)."""
    return hashlib.sha256(SSID_TAG + b"/hello" + _lp(workflow_id.encode()) + _lp(session_id.encode())
                          + _lp(protocol.encode())).digest()


def session_id_hash(
    *,
    protocol: str,
    curve: str,
    key_id: str,
    epoch: int,
    parties: Sequence[Party],
    threshold: int,
    workflow_id: str,
    contributions: dict[str, bytes],
) -> bytes:
    ordered = sorted(parties, key=lambda p: p.party_id)
    parts = [SSID_TAG, struct.pack(">H", SSID_VERSION), _lp(protocol.encode()), _lp(curve.encode()),
             _lp(key_id.encode()), struct.pack(">Q", epoch), struct.pack(">HH", threshold, len(ordered))]
    for party in ordered:
        parts += [struct.pack(">H", party.party_id), _lp(party.node_id.encode()),
                  bytes.fromhex(party.signing_public_key), bytes.fromhex(party.encryption_public_key)]
    parts.append(_lp(workflow_id.encode()))
    for party in ordered:
        contribution = contributions[party.node_id]
        if len(contribution) != CONTRIBUTION_BYTES:  # a signed hello of the wrong size: its sender's fault (A5)
            violation("malformed_hello", [party.node_id],
                      f"contribution of {party.node_id} has {len(contribution)} bytes, not {CONTRIBUTION_BYTES}")
        parts.append(contribution)
    return hashlib.sha256(b"".join(parts)).digest()
