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
    preparams_generated_on_request,
    preparams_level,
    session_preparams,
    store_presignature,
    take_preparams,
)
from mpc.keystore import LocalKeyWrapper, SecretStateStore
from tss.errors import NonceReuseError
from tss.paillier.preparams import PreParams

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


def test_an_empty_pool_generates_on_the_request_path_as_a_last_resort_warned_and_counted(
        state: SecretStateStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A pool entry is always taken first; only an empty pool generates (here a stand-in for the 2048-bit
    generator: tests never make primes), with a WARNING and the `path="request"` counter."""
    lines = FIXTURE.read_text().splitlines()
    made: list[int] = []

    class Generator:
        def __init__(self, *, bits: int) -> None:
            self.bits = bits

        def take(self, *, generate_if_empty: bool) -> PreParams:
            assert generate_if_empty
            made.append(self.bits)
            return PreParams.from_json(lines[5], trusted=True)

    monkeypatch.setattr("activities.ecdsa_node.PreParamsPool", Generator)
    before = preparams_generated_on_request(state.node_id)
    _seed(state, lines[4:5])
    assert take_preparams(state).to_json() == lines[4] and made == []  # the pool's entry, nothing generated
    assert preparams_level(state) == 0 and preparams_generated_on_request(state.node_id) == before
    assert take_preparams(state).to_json() == lines[5] and made == [2048]
    assert preparams_generated_on_request(state.node_id) == before + 1
    assert "pre-parameter pool is empty" in caplog.text and caplog.records[-1].levelname == "WARNING"


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
