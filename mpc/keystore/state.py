"""Sealed per-session secret state and one-time secrets (nonces, presignatures).

Layout under ``root`` (may be the same directory as a `ShareStore`: every name here starts with
a dot, which key ids cannot), directories 0700, files 0600::

    root/.node                                   node binding, as in ShareStore
    root/.nonce-epoch                            {"counter": n, "token": 32 hex}
    root/.state/<namespace>/<session>/<name>.sealed   e.g. ("frost-sign", ssid, "round-1")
    root/.once/<namespace>/<id>.sealed           an unconsumed one-time secret
    root/.once/<namespace>/<id>.consumed         durable "used" marker (kept for ever)

Same envelope encryption and atomic writes as shares (see `_blob`, `_fs`); the associated data
binds purpose, node, namespace, session/id, name and the nonce epoch the record was made in.

Why `consume` looks the way it does (DESIGN.md round-protocol rule 3, SECURITY.md N2): it
decrypts first (a Vault outage must not burn a nonce), then creates the marker with O_EXCL and
fsyncs it and its directory, then deletes the sealed secret, and only then returns it. A crash
after the mark loses the nonce, which is the safe direction; a second consume, in this process or
after a restart, meets the marker and gets `NonceReuseError`.

Why a nonce epoch (SECURITY.md N4): a restore or VM snapshot brings back nonces whose "used"
markers were written after the backup. `bump_nonce_epoch()` (run by every restore/failover)
draws a new random token; records carry the token they were made under, and anything not made
under the current one is void (`StaleEpochError`). A random token rather than a counter, because a
restored counter could be bumped to a value the node had already used before the restore.
Session state (`get`) is checked too: a session that straddles a restore must abort. The epoch
file itself is plain JSON, not sealed: rewriting it needs root on the node, which could as well
delete the consumed markers; what it protects against is a restore, not a local attacker.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mpc.keystore import _blob, _fs
from mpc.keystore.errors import (
    NonceReuseError,
    RetryMismatchError,
    ShareExistsError,
    ShareNotFoundError,
    StaleEpochError,
    StorageError,
)
from mpc.keystore.wrappers import KeyWrapper

STATE_KIND = "session-state"
ONCE_KIND = "one-time-secret"
_SEALED = ".sealed"
_CONSUMED = ".consumed"


@dataclass(frozen=True, slots=True)
class NonceEpoch:
    """The node's current nonce epoch. `token` is what records are bound to."""

    counter: int
    token: str


class SecretStateStore:
    """Sealed blobs keyed by (namespace, session_id, name) plus one-time secrets. Thread-safe for
    distinct names; `consume` is safe for concurrent callers and processes on the same name."""

    def __init__(self, root: Path | str, wrapper: KeyWrapper, node_id: str) -> None:
        self.root = _fs.ensure_private_dir(Path(root))
        self.node_id = _fs.check_name(node_id, "node id")
        self._wrapper = wrapper
        _fs.claim_root(self.root, self.node_id)
        if _fs.read_file(self._epoch_path) is None:
            with contextlib.suppress(ShareExistsError):
                _fs.atomic_write(self._epoch_path, _epoch_json(NonceEpoch(1, secrets.token_hex(16))), replace=False)

    def __repr__(self) -> str:
        return f"SecretStateStore({str(self.root)!r}, node_id={self.node_id!r}, wrapper={self._wrapper!r})"

    # -- nonce epoch -------------------------------------------------------------------------

    @property
    def _epoch_path(self) -> Path:
        return self.root / ".nonce-epoch"

    @property
    def nonce_epoch(self) -> NonceEpoch:
        """Read from disk each time, so a bump by another process takes effect at once."""
        raw = _fs.read_file(self._epoch_path)
        try:
            d = json.loads(raw or b"")
            epoch = NonceEpoch(int(d["counter"]), str(d["token"]))
        except (ValueError, KeyError, TypeError):
            raise StorageError(f"nonce epoch file {self._epoch_path} is missing or corrupt") from None
        if len(epoch.token) != 32:
            raise StorageError(f"nonce epoch file {self._epoch_path} is corrupt")
        return epoch

    def bump_nonce_epoch(self) -> NonceEpoch:
        """Void every one-time secret and session state created so far (restore, failover)."""
        new = NonceEpoch(self.nonce_epoch.counter + 1, secrets.token_hex(16))
        _fs.atomic_write(self._epoch_path, _epoch_json(new))
        return new

    # -- session state -----------------------------------------------------------------------

    def _state_path(self, namespace: str, session_id: str, name: str) -> Path:
        return (self.root / ".state" / _fs.check_name(namespace, "namespace") / _fs.check_name(session_id, "session id")
                / (_fs.check_name(name, "name") + _SEALED))

    def put(self, namespace: str, session_id: str, name: str, data: bytes, *, replace: bool = False) -> None:
        """Seal `data` under (namespace, session_id, name).

        Without `replace`, an existing record with identical bytes is a no-op (activity retry) and a
        different one raises `ShareExistsError`: a round answered once is never answered anew
        (DESIGN.md rule 2).
        """
        path = self._state_path(namespace, session_id, name)
        _fs.ensure_private_dir(path.parent)
        epoch = self.nonce_epoch.token
        context = {"namespace": namespace, "session": session_id, "name": name, "nonce_epoch": epoch}
        blob = _blob.seal(self._wrapper, kind=STATE_KIND, node_id=self.node_id, context=context,
                          created=_now(), plaintext=bytes(data))
        try:
            _fs.atomic_write(path, blob, replace=replace)
        except ShareExistsError:
            if not _same(self.get(namespace, session_id, name), bytes(data)):
                raise ShareExistsError(f"state {namespace}/{session_id}/{name} already holds different data") from None

    def get(self, namespace: str, session_id: str, name: str, *, allow_stale: bool = False) -> bytes:
        """Return the sealed bytes. Records from an older nonce epoch raise `StaleEpochError`
        unless `allow_stale` (only for data that is not nonce-bearing, e.g. the node identity)."""
        path = self._state_path(namespace, session_id, name)
        what = f"state {namespace}/{session_id}/{name}"
        blob = _fs.read_file(path)
        if blob is None:
            raise ShareNotFoundError(f"no {what} on node {self.node_id!r}")
        header, _, _ = _blob.read_header(blob, what=what)
        made_in = str(header.context.get("nonce_epoch", ""))
        if not allow_stale and made_in != self.nonce_epoch.token:
            raise StaleEpochError(f"{what} was created before the last nonce-epoch bump (restore); it is void")
        context = {"namespace": namespace, "session": session_id, "name": name, "nonce_epoch": made_in}
        _, data = _blob.open_blob(self._wrapper, blob, kind=STATE_KIND, node_id=self.node_id,
                                  context=context, what=what)
        return data

    def answer_once(self, namespace: str, session_id: str, name: str, request: bytes,
                    produce: Callable[[], bytes]) -> bytes:
        """Run a round at most once per (namespace, session, name) (DESIGN.md rule 2, SECURITY.md N3).

        The first call runs `produce()` and seals its output with a hash of `request`; a retry with
        byte-identical `request` returns the stored output without running `produce` again (no
        fresh randomness, no second nonce use, and the same ciphertexts, so peers see a repeat and
        not equivocation); a retry with any other `request` raises `RetryMismatchError`.
        The stored output is as secret as the sealed state: outbound envelopes only, by convention.
        """
        digest = hashlib.sha256(b"mpc-keystore/round-request/v1" + bytes(request)).digest()

        def replay(record: bytes) -> bytes:
            if not hmac.compare_digest(record[:32], digest):
                raise RetryMismatchError(
                    f"{namespace}/{session_id}/{name} was answered for another input; refusing to answer again")
            return record[32:]

        with contextlib.suppress(ShareNotFoundError):
            return replay(self.get(namespace, session_id, name))
        output = bytes(produce())
        try:
            self.put(namespace, session_id, name, digest + output)
        except ShareExistsError:  # a concurrent attempt stored its answer first: that one counts
            return replay(self.get(namespace, session_id, name))
        return output

    def stored_answer(self, namespace: str, session_id: str, name: str) -> bytes:
        """The output `answer_once` stored under `name` (for the next round to build on)."""
        return self.get(namespace, session_id, name)[32:]

    def exists(self, namespace: str, session_id: str, name: str) -> bool:
        return self._state_path(namespace, session_id, name).exists()

    def delete(self, namespace: str, session_id: str, name: str) -> bool:
        return _fs.remove(self._state_path(namespace, session_id, name))

    def delete_session(self, namespace: str, session_id: str) -> int:
        """Remove every record of a finished or aborted session; returns how many."""
        folder = self._state_path(namespace, session_id, "x").parent
        count = 0
        for path in sorted(folder.glob(f"*{_SEALED}")) if folder.is_dir() else []:
            count += _fs.remove(path)
        with contextlib.suppress(OSError):
            folder.rmdir()
        return count

    def list_sessions(self, namespace: str) -> list[str]:
        folder = self.root / ".state" / _fs.check_name(namespace, "namespace")
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    # -- one-time secrets --------------------------------------------------------------------

    def _once_paths(self, namespace: str, record_id: str) -> tuple[Path, Path]:
        base = self.root / ".once" / _fs.check_name(namespace, "namespace")
        _fs.check_name(record_id, "record id")
        return base / (record_id + _SEALED), base / (record_id + _CONSUMED)

    def put_one_time(self, namespace: str, record_id: str, secret: bytes,
                     public: Mapping[str, Any] | None = None) -> None:
        """Store a nonce/presignature to be used exactly once. An id is never reusable, not even
        after it was consumed, so a retried generation cannot resurrect a used nonce."""
        sealed, consumed = self._once_paths(namespace, record_id)
        _fs.ensure_private_dir(sealed.parent)
        if consumed.exists():
            raise NonceReuseError(f"one-time record {namespace}/{record_id} was already consumed; ids are single-use")
        context = {"namespace": namespace, "id": record_id, "nonce_epoch": self.nonce_epoch.token}
        blob = _blob.seal(self._wrapper, kind=ONCE_KIND, node_id=self.node_id, context=context,
                          created=_now(), plaintext=bytes(secret), public=public)
        _fs.atomic_write(sealed, blob, replace=False)

    def consume(self, namespace: str, record_id: str) -> bytes:
        """Return a one-time secret after durably marking it used (see the module docstring).

        Raises:
            NonceReuseError: consumed before (also by another process or before a restart).
            StaleEpochError: created before the last `bump_nonce_epoch` (it is discarded).
            ShareNotFoundError: never stored.
        """
        sealed, consumed = self._once_paths(namespace, record_id)
        what = f"one-time record {namespace}/{record_id}"
        if consumed.exists():
            _fs.remove(sealed)
            raise NonceReuseError(f"{what} was already consumed; refusing to use it twice")
        blob = _fs.read_file(sealed)
        if blob is None:
            raise ShareNotFoundError(f"no {what} on node {self.node_id!r}")
        header, _, _ = _blob.read_header(blob, what=what)
        current = self.nonce_epoch.token
        if header.context.get("nonce_epoch") != current:
            self.discard(namespace, record_id)
            raise StaleEpochError(f"{what} predates the last nonce-epoch bump (restore/failover); discarded")
        context = {"namespace": namespace, "id": record_id, "nonce_epoch": current}
        _, secret = _blob.open_blob(self._wrapper, blob, kind=ONCE_KIND, node_id=self.node_id,
                                    context=context, what=what)
        if not _fs.create_exclusive(consumed, _blob.canonical_json({"consumed": _now()})):
            raise NonceReuseError(f"{what} was consumed concurrently; refusing to use it twice")
        _fs.remove(sealed)
        return secret

    def discard(self, namespace: str, record_id: str) -> None:
        """Mark a one-time secret used without reading it (abort, invalidation)."""
        sealed, consumed = self._once_paths(namespace, record_id)
        _fs.ensure_private_dir(sealed.parent)
        _fs.create_exclusive(consumed, _blob.canonical_json({"discarded": _now()}))
        _fs.remove(sealed)

    def is_consumed(self, namespace: str, record_id: str) -> bool:
        return self._once_paths(namespace, record_id)[1].exists()

    def one_time_ids(self, namespace: str) -> list[str]:
        """Ids of stored, unconsumed one-time secrets (of any epoch)."""
        folder = self.root / ".once" / _fs.check_name(namespace, "namespace")
        if not folder.is_dir():
            return []
        return sorted(p.name[: -len(_SEALED)] for p in folder.iterdir()
                      if p.name.endswith(_SEALED) and not _fs.is_temp(p.name))

    def discard_key_records(self, namespace: str, key_id: str, before_epoch: int) -> int:
        """Discard the unconsumed one-time secrets of `key_id` from share epochs below `before_epoch`
        (their public data names key and epoch): after a reshare or refresh they are never usable."""
        count = 0
        for record_id in self.one_time_ids(namespace):
            sealed, _ = self._once_paths(namespace, record_id)
            blob = _fs.read_file(sealed)
            if blob is None:
                continue
            public = _blob.read_header(blob, what=f"one-time record {namespace}/{record_id}")[0].public
            epoch = public.get("epoch")
            if public.get("key_id") == key_id and isinstance(epoch, int) and epoch < before_epoch:
                self.discard(namespace, record_id)
                count += 1
        return count

    def purge_stale(self, namespace: str) -> int:
        """Discard one-time secrets from older epochs (after a bump; keeps backups nonce-free)."""
        current, count = self.nonce_epoch.token, 0
        for record_id in self.one_time_ids(namespace):
            sealed, _ = self._once_paths(namespace, record_id)
            blob = _fs.read_file(sealed)
            if blob is None:
                continue
            header, _, _ = _blob.read_header(blob, what=f"one-time record {namespace}/{record_id}")
            if header.context.get("nonce_epoch") != current:
                self.discard(namespace, record_id)
                count += 1
        return count


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _epoch_json(epoch: NonceEpoch) -> bytes:
    return _blob.canonical_json({"counter": epoch.counter, "token": epoch.token})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["ONCE_KIND", "STATE_KIND", "NonceEpoch", "SecretStateStore"]
