"""A participant's ECDSA material: the sealed pre-parameter pool and one-time presignatures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from activities.ecdsa_node import (
    PREPARAMS_FILE,
    SESSION_PREPARAMS,
    SealedPresignatureStore,
    forget_presignature,
    import_preparams,
    load_presignature,
    session_preparams,
    store_presignature,
    take_preparams,
)
from mpc.keystore import LocalKeyWrapper, SecretStateStore
from tss.errors import NonceReuseError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ecdsa" / "preparams.jsonl"


@pytest.fixture
def state(tmp_path: Path) -> SecretStateStore:
    return SecretStateStore(tmp_path / "state", LocalKeyWrapper(os.urandom(32)), "node-1")


def _seed(state: SecretStateStore, lines: list[str]) -> Path:
    path = Path(state.root).parent / PREPARAMS_FILE
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_preparams_are_sealed_taken_once_and_never_reimported(state: SecretStateStore) -> None:
    lines = FIXTURE.read_text().splitlines()[:2]
    path = _seed(state, [*lines, '{"v": 1, "bits": 2048}'])  # a malformed entry is skipped
    assert import_preparams(state) == 2 and not path.exists()
    first, second = take_preparams(state), take_preparams(state)
    assert {first.to_json(), second.to_json()} == set(lines)
    _seed(state, lines)  # the same entries again: already used, not imported
    assert import_preparams(state) == 0


def test_session_preparams_are_stable_across_rounds(state: SecretStateStore) -> None:
    _seed(state, FIXTURE.read_text().splitlines()[2:4])
    chosen = session_preparams(state, "ssid-a")
    assert session_preparams(state, "ssid-a").to_json() == chosen.to_json()
    assert session_preparams(state, "ssid-b").to_json() != chosen.to_json()
    state.delete_session(SESSION_PREPARAMS, "ssid-a")


def test_presignature_is_consumed_once(state: SecretStateStore) -> None:
    presig_id, data = "ab" * 32, b'{"presignature": 1}'
    store_presignature(state, presig_id, data)
    store_presignature(state, presig_id, data)  # a retried final round is harmless
    store = SealedPresignatureStore(state)
    assert load_presignature(state, presig_id) == data
    store.mark_consumed(bytes.fromhex(presig_id), b"\x01" * 32)
    assert load_presignature(state, presig_id) == data  # round 2 still rebuilds the adapter
    with pytest.raises(NonceReuseError):
        store.mark_consumed(bytes.fromhex(presig_id), b"\x02" * 32)
    forget_presignature(state, presig_id)
    with pytest.raises(NonceReuseError):
        load_presignature(state, presig_id)
    with pytest.raises(NonceReuseError):
        store.mark_consumed(bytes.fromhex(presig_id), b"\x01" * 32)
