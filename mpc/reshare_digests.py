"""What a reshare's new holders sign in phase two: their ACK and the test signature's digest.

Pure hashing, safe in the workflow sandbox (the workflow computes the test digest that the ECDSA
test signature runs over) and on the nodes. Both are tagged and bound to key, epoch and the ack
digest H(ssid || new public shares || Y), so neither can be replayed for another change, and the
test digest is no transaction of any chain.
"""

from __future__ import annotations

import hashlib

ACK_TAG = b"mpc-signer/reshare-ack/v1\x00"
TEST_TAG = b"mpc-signer/reshare-test/v1\x00"


def _framed(key_id: str, epoch: int, ack_digest: str) -> bytes:
    """Raises ValueError for a digest that is not hex."""
    return len(key_id).to_bytes(2, "big") + key_id.encode() + epoch.to_bytes(8, "big") + bytes.fromhex(ack_digest)


def ack_message(key_id: str, epoch: int, ack_digest: str) -> bytes:
    """What a new holder signs (Ed25519, its identity key) to confirm its share of `epoch`."""
    return ACK_TAG + _framed(key_id, epoch, ack_digest)


def test_message(key_id: str, epoch: int, ack_digest: str) -> bytes:
    """The 32-byte digest the new shares test-sign before the commit point."""
    return hashlib.sha256(TEST_TAG + _framed(key_id, epoch, ack_digest)).digest()


def test_ssid(session_id: str, key_id: str, epoch: int, ack_digest: str) -> bytes:
    """Binds the FROST test signature's commitments and shares to one reshare session."""
    return hashlib.sha256(b"mpc-signer/reshare-test-ssid" + _framed(key_id, epoch, ack_digest)
                          + session_id.encode()).digest()


RECOVER_TAG = b"mpc-signer/recover-import/v1\x00"


def recover_ack_digest(session_id: str, key_id: str, epoch: int, package_json: bytes) -> str:
    """The ack digest of a recovery from escrow (its new holders ACK and test-sign it like a reshare's):
    H(tag || session || key || new epoch || canonical new public package), hex; the same on every new holder."""
    return hashlib.sha256(RECOVER_TAG + len(session_id).to_bytes(2, "big") + session_id.encode()
                          + _framed(key_id, epoch, "") + package_json).hexdigest()
