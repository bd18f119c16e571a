"""A short-lived in-memory cache of data keys in front of a `KeyWrapper` (DATA_KEY_CACHE_SECONDS).

Without it every sealed record costs a Vault transit call to make its data key and another to read it
back: five or six HTTP round trips per FROST signature on each signer, and one per nonce of a batch.
With it, for `ttl` seconds:

- `unwrap` answers a wrapped key it unwrapped (or made) before from memory;
- `new_data_key` hands out the same fresh data key (and its one wrapped form) for every record sealed in
  the window, at most `max_uses` times; each record still gets its own random 96-bit GCM nonce.

What it costs, in SECURITY terms (H5, S7 "envelope keys off-host"): an unwrapped data key stays in this
process's memory for up to `ttl` seconds instead of the duration of one call, so someone who can read the
participant's memory in that window reads every record sealed under the cached keys without asking Vault;
one data key protects every record sealed in the window (a leaked key opens all of them, not one); Vault's
audit log shows one unwrap per key and window rather than one per read; and revoking the node's Vault token
or transit key stops new unwraps at once but not the reads of keys already cached, for at most `ttl`
seconds. The share file and the nonce records on disk are as before: the disk alone never suffices.
0 disables the cache (every record its own key and Vault call, as before). GCM with random nonces stays
far below its bound: `max_uses` (2^20) records per key, against NIST SP 800-38D's 2^32.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mpc.keystore.wrappers import KeyWrapper, WrappedKey, wipe

MAX_USES = 2**20
MAX_ENTRIES = 4096


@dataclass
class _Entry:
    key: bytearray
    expires: float


class CachingKeyWrapper:
    """A `KeyWrapper` that keeps unwrapped data keys for `ttl` seconds (thread-safe)."""

    def __init__(self, inner: KeyWrapper, ttl: float, *, max_uses: int = MAX_USES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive (use the inner wrapper to disable caching)")
        self._inner, self._ttl, self._max_uses, self._clock = inner, ttl, max_uses, clock
        self._lock = threading.Lock()
        self._unwrapped: dict[tuple[str, str, str], _Entry] = {}
        self._lease: tuple[_Entry, WrappedKey] | None = None
        self._lease_uses = 0
        self._swept = clock()

    def __repr__(self) -> str:
        return f"CachingKeyWrapper({self._inner!r}, ttl={self._ttl})"

    @property
    def scheme(self) -> str:
        return self._inner.scheme

    @property
    def key_ref(self) -> str:
        return self._inner.key_ref

    def check(self) -> None:
        check = getattr(self._inner, "check", None)
        if check is not None:
            check()

    def new_data_key(self) -> tuple[bytearray, WrappedKey]:
        now = self._clock()
        with self._lock:
            if self._lease is not None and self._lease[0].expires > now and self._lease_uses < self._max_uses:
                self._lease_uses += 1
                return bytearray(self._lease[0].key), self._lease[1]
        key, wrapped = self._inner.new_data_key()  # outside the lock: a Vault round trip
        with self._lock:
            entry = _Entry(bytearray(key), now + self._ttl)
            self._lease, self._lease_uses = (entry, wrapped), 1
            self._remember(wrapped, entry, now)
        return key, wrapped

    def unwrap(self, wrapped: WrappedKey) -> bytearray:
        now = self._clock()
        ident = (wrapped.scheme, wrapped.key_ref, wrapped.ciphertext)
        with self._lock:
            entry = self._unwrapped.get(ident)
            if entry is not None and entry.expires > now:
                return bytearray(entry.key)
        key = self._inner.unwrap(wrapped)  # raises for another KEK, as without the cache
        with self._lock:
            self._remember(wrapped, _Entry(bytearray(key), now + self._ttl), now)
        return key

    def clear(self) -> None:
        """Forget (and overwrite) every cached key."""
        with self._lock:
            for entry in self._unwrapped.values():
                wipe(entry.key)
            self._unwrapped.clear()
            self._lease, self._lease_uses = None, 0

    def _remember(self, wrapped: WrappedKey, entry: _Entry, now: float) -> None:
        if now - self._swept >= 1.0 or len(self._unwrapped) >= MAX_ENTRIES:
            self._sweep(now)
        self._unwrapped[(wrapped.scheme, wrapped.key_ref, wrapped.ciphertext)] = entry

    def _sweep(self, now: float) -> None:
        """Overwrite and drop expired keys (and, when full, the older half)."""
        self._swept = now
        drop = [k for k, e in self._unwrapped.items() if e.expires <= now]
        if len(self._unwrapped) - len(drop) >= MAX_ENTRIES:
            drop += [k for k in list(self._unwrapped)[: MAX_ENTRIES // 2] if k not in drop]
        for ident in drop:
            entry = self._unwrapped.pop(ident)
            if self._lease is not None and entry is self._lease[0]:
                self._lease = None  # an expired lease is never handed out again
            wipe(entry.key)


__all__ = ["CachingKeyWrapper"]
