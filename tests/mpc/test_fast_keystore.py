"""The keystore's speed levers (issue 12): the data-key cache and one fsync per activity, and that neither
weakens what they guard: a nonce is still consumed once, a wrong KEK still refuses, the cache expires."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mpc.keystore import (
    CachingKeyWrapper,
    LocalKeyWrapper,
    NonceReuseError,
    SecretStateStore,
    TransitKeyError,
    WrappedKey,
    _fs,
    one_sync,
)


class CountingWrapper(LocalKeyWrapper):
    """A local KEK that counts what would be Vault calls."""

    def __init__(self, kek: bytes) -> None:
        super().__init__(kek)
        self.made = self.unwrapped = 0

    def new_data_key(self) -> tuple[bytearray, WrappedKey]:
        self.made += 1
        return super().new_data_key()

    def unwrap(self, wrapped: WrappedKey) -> bytearray:
        self.unwrapped += 1
        return super().unwrap(wrapped)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_serves_a_window_then_asks_again() -> None:
    inner, clock = CountingWrapper(os.urandom(32)), Clock()
    cache = CachingKeyWrapper(inner, 30, clock=clock)
    key, wrapped = cache.new_data_key()
    again, wrapped_again = cache.new_data_key()
    assert (inner.made, bytes(key), wrapped) == (1, bytes(again), wrapped_again)  # one lease for the window
    assert bytes(cache.unwrap(wrapped)) == bytes(key) and inner.unwrapped == 0  # made here: known
    other_key, other = inner.new_data_key()
    assert bytes(cache.unwrap(other)) == bytes(other_key) and bytes(cache.unwrap(other)) == bytes(other_key)
    assert inner.unwrapped == 1
    clock.now += 31  # expired: Vault is asked again, for both
    assert bytes(cache.unwrap(other)) == bytes(other_key) and inner.unwrapped == 2
    fresh, fresh_wrapped = cache.new_data_key()
    assert inner.made == 3 and fresh_wrapped != wrapped and bytes(fresh) != bytes(key)


def test_cache_hands_out_copies_limits_uses_and_clears() -> None:
    inner = CountingWrapper(os.urandom(32))
    cache = CachingKeyWrapper(inner, 30, max_uses=3)
    keys = [cache.new_data_key() for _ in range(4)]
    assert inner.made == 2 and keys[0][1] == keys[2][1] != keys[3][1]  # a lease serves max_uses records
    keys[0][0][:] = bytes(32)  # the caller wipes its copy: the cache's key is untouched
    assert bytes(cache.unwrap(keys[1][1])) == bytes(keys[1][0]) != bytes(32)
    cache.clear()
    assert bytes(cache.unwrap(keys[1][1])) == bytes(keys[1][0]) and inner.unwrapped == 1


def test_cache_refuses_another_keks_data_key() -> None:
    cache = CachingKeyWrapper(CountingWrapper(os.urandom(32)), 30)
    _, foreign = LocalKeyWrapper(os.urandom(32)).new_data_key()
    with pytest.raises(TransitKeyError):
        cache.unwrap(foreign)
    with pytest.raises(ValueError):
        CachingKeyWrapper(CountingWrapper(os.urandom(32)), 0)


def test_state_store_behind_the_cache(tmp_path: Path) -> None:
    """Records sealed under one leased data key still bind their own context and are consumed once."""
    inner = CountingWrapper(os.urandom(32))
    state = SecretStateStore(tmp_path, CachingKeyWrapper(inner, 30), "node-1")
    for i in range(20):
        state.put_one_time("frost-nonces", f"n{i}", bytes([i]) * 64)
    assert [state.consume("frost-nonces", f"n{i}") for i in range(20)] == [bytes([i]) * 64 for i in range(20)]
    assert inner.made == 1 and inner.unwrapped == 0
    with pytest.raises(NonceReuseError):
        state.consume("frost-nonces", "n3")
    # Without the cache the same files read back (one Vault unwrap each, as before).
    plain = SecretStateStore(tmp_path, inner, "node-1")
    plain.put_one_time("frost-nonces", "late", b"x" * 64)
    assert plain.consume("frost-nonces", "late") == b"x" * 64


def test_one_sync_fsyncs_each_touched_directory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = SecretStateStore(tmp_path, LocalKeyWrapper(os.urandom(32)), "node-1")
    for i in range(10):
        state.put_one_time("frost-nonces", f"n{i}", b"secret" * 10)
    state.put("frost-sign", "session", "first", b"made before")
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(_fs.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    state.consume("frost-nonces", "n0")
    assert len(synced) == 3  # outside: the marker, its directory, the unlink's directory
    synced.clear()
    with one_sync():
        for i in range(1, 10):
            state.consume("frost-nonces", f"n{i}")
        state.put("frost-sign", "session", "answer", b"shares")
        assert synced == []  # nothing until the block ends
    assert len(synced) == 2  # the nonce directory and the answer's directory, once each
    with one_sync(), pytest.raises(NonceReuseError):  # the markers are there: a second use is refused
        state.consume("frost-nonces", "n5")
    with one_sync(), one_sync():  # nested: the outer block syncs
        state.put("frost-sign", "session", "answer-2", b"more")
    assert all(state.is_consumed("frost-nonces", f"n{i}") for i in range(10))
    # A new directory is made durable in its parent too (a new session's records would vanish with it).
    synced.clear()
    state.put("frost-sign", "new-session", "answer", b"x")
    assert len(synced) == 3  # the parent of the new directory, the file, the new directory
