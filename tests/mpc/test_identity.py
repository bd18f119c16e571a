"""NodeIdentity: generated once, sealed in the keystore, never printed."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from nacl.signing import VerifyKey

from mpc.identity import IdentityError, NodeIdentity, NodePublic
from mpc.keystore import LocalKeyWrapper, SecretStateStore


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


def test_load_or_create_persists_across_restart(tmp_path: Path, kek: bytes) -> None:
    store = SecretStateStore(tmp_path / "node", LocalKeyWrapper(kek), "node-1")
    first = NodeIdentity.load_or_create(store)
    again = NodeIdentity.load_or_create(SecretStateStore(tmp_path / "node", LocalKeyWrapper(kek), "node-1"))
    assert first.public() == again.public()
    assert first.node_id == "node-1"
    sealed = list((tmp_path / "node").rglob("*.sealed"))
    assert len(sealed) == 1 and oct(sealed[0].stat().st_mode & 0o777) == "0o600"
    # a restore bumps the nonce epoch, but the node keeps its identity
    store.bump_nonce_epoch()
    assert NodeIdentity.load_or_create(store).public() == first.public()


def test_other_nodes_get_other_keys(tmp_path: Path, kek: bytes) -> None:
    a = NodeIdentity.load_or_create(SecretStateStore(tmp_path / "a", LocalKeyWrapper(kek), "node-a"))
    b = NodeIdentity.load_or_create(SecretStateStore(tmp_path / "b", LocalKeyWrapper(kek), "node-b"))
    assert a.public().ed25519 != b.public().ed25519 and a.public().x25519 != b.public().x25519


def test_public_keys_and_signatures(tmp_path: Path) -> None:
    ident = NodeIdentity.generate("node-1")
    pub = ident.public()
    assert len(pub.ed25519) == 64 and len(pub.x25519) == 64
    assert pub.signing_public_key == pub.ed25519 and pub.encryption_public_key == pub.x25519
    sig = ident.sign(b"hello")
    assert pub.verify(b"hello", sig) and not pub.verify(b"hellO", sig)
    VerifyKey(pub.ed25519_bytes).verify(b"hello", sig)  # what api/routes/nodes.py uses (PyNaCl)
    assert NodePublic.from_dict(pub.to_dict()) == pub
    with pytest.raises(IdentityError):
        NodePublic("n", "00" * 31, pub.x25519)
    with pytest.raises(IdentityError):
        ident.x25519_exchange(b"\x00" * 32)  # low-order point


def test_repr_never_shows_secrets() -> None:
    ident = NodeIdentity.generate("node-1")
    record = ident._record()
    for text in (repr(ident), str(ident), f"{ident}"):
        assert record[:32].hex() not in text and record[32:].hex() not in text
        assert "node-1" in text
    with pytest.raises(TypeError):
        pickle.dumps(ident)
