"""Per-node key-share storage (DESIGN.md "Storage").

Layout under ``root`` (``KEY_SHARE_STORAGE_PATH``), directories 0700, files 0600::

    root/.node                    {"node_id": ...}: a store belongs to one node; another refuses it
    root/<key_id>/epoch-<N>.share sealed share of key `key_id`, share epoch N (see `_blob`)
    root/<key_id>/epoch-<N>.meta  non-secret JSON copy of the header: what metadata backups take
    root/<key_id>/active          {"epoch": N}: the epoch signing uses

Why epochs: a reshare/refresh writes epoch N+1 beside N and keeps N usable until the new holders
have confirmed (SECURITY.md R3); only then `activate_epoch` and `retire_epochs_before` run.
Each epoch file is written once (a re-put of identical content is an idempotent no-op, anything
else is refused), so a failed write can never damage a share that is in use.

Each share is AES-256-GCM under its own data key wrapped by the node's KEK, with associated data
(format version, purpose ``"key-share"``, node id, key id, epoch): a file renamed or copied to
another key, epoch or node does not open (SECURITY.md H5). Write order is share, then meta, then
the active pointer, each atomic; a crash in between leaves at worst a new epoch that is not yet
active, and `get_meta` falls back to the share's own (authenticated-on-open) header if the
``.meta`` copy is missing. The pointer is not sealed: rolling it back needs write access to the
node's disk and only selects another epoch of the same key that was not yet retired.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mpc.keystore import _blob, _fs
from mpc.keystore.errors import ShareExistsError, ShareNotFoundError, StorageError
from mpc.keystore.wrappers import KeyWrapper

SHARE_KIND = "key-share"
_EPOCH_FILE = re.compile(r"epoch-(0|[1-9][0-9]{0,17})\.share")


@dataclass(frozen=True, slots=True)
class ShareMeta:
    """Non-secret facts about one stored share (safe to log, back up and return from the API)."""

    key_id: str
    node_id: str
    epoch: int
    created: str
    public: dict[str, Any]
    wrapped_by: str

    def to_json(self) -> bytes:
        return _blob.canonical_json({"format": _blob.FORMAT_VERSION, "key_id": self.key_id, "node_id": self.node_id,
                                     "epoch": self.epoch, "created": self.created, "public": self.public,
                                     "wrapped_by": self.wrapped_by})

    @classmethod
    def from_header(cls, header: _blob.BlobHeader) -> ShareMeta:
        return cls(key_id=str(header.context["key_id"]), node_id=header.node_id, epoch=int(header.context["epoch"]),
                   created=header.created, public=header.public,
                   wrapped_by=f"{header.wrapped_key.scheme}:{header.wrapped_key.key_ref}")


@dataclass(frozen=True, slots=True)
class ShareRecord:
    """A decrypted share with its authenticated metadata. `repr` never shows the secret."""

    meta: ShareMeta
    secret: bytes = field(repr=False)


class ShareStore:
    """Encrypted key shares of one node. See the module docstring for layout and guarantees."""

    def __init__(self, root: Path | str, wrapper: KeyWrapper, node_id: str) -> None:
        self.root = _fs.ensure_private_dir(Path(root))
        self.node_id = _fs.check_name(node_id, "node id")
        self._wrapper = wrapper
        _fs.claim_root(self.root, self.node_id)

    def __repr__(self) -> str:
        return f"ShareStore({str(self.root)!r}, node_id={self.node_id!r}, wrapper={self._wrapper!r})"

    # -- paths -------------------------------------------------------------------------------

    def _key_dir(self, key_id: str) -> Path:
        return self.root / _fs.check_name(key_id, "key id")

    def _share_path(self, key_id: str, epoch: int) -> Path:
        return self._key_dir(key_id) / f"epoch-{_check_epoch(epoch)}.share"

    def _meta_path(self, key_id: str, epoch: int) -> Path:
        return self._key_dir(key_id) / f"epoch-{_check_epoch(epoch)}.meta"

    # -- writing -----------------------------------------------------------------------------

    def put_share(self, key_id: str, epoch: int, secret: bytes, public: Mapping[str, Any] | None = None,
                  *, activate: bool = True) -> ShareMeta:
        """Store the share of `key_id` for `epoch`, then its `.meta`, then (optionally) activate it.

        Idempotent for activity retries: the same secret and public data again return the stored
        meta; different content for an existing epoch raises `ShareExistsError`.

        Args:
            activate: make this the epoch `get_share(key_id)` returns. Pass False for a reshare
                until the new shares are confirmed, then call `activate_epoch`.
        """
        path = self._share_path(key_id, epoch)
        _fs.ensure_private_dir(path.parent)
        public = dict(public or {})
        context: dict[str, str | int] = {"key_id": key_id, "epoch": epoch}
        blob = _blob.seal(self._wrapper, kind=SHARE_KIND, node_id=self.node_id, context=context,
                          created=_now(), plaintext=bytes(secret), public=public)
        try:
            _fs.atomic_write(path, blob, replace=False)
            header, _, _ = _blob.read_header(blob, what=str(path))
        except ShareExistsError:
            existing = self.open_share(key_id, epoch)
            same_public = _blob.canonical_json(existing.meta.public) == _blob.canonical_json(public)
            if not (hmac.compare_digest(existing.secret, bytes(secret)) and same_public):
                raise ShareExistsError(f"a different share of key {key_id!r} epoch {epoch} is already stored") from None
            header, _, _ = _blob.read_header(_fs.read_file(path) or b"", what=str(path))
        meta = ShareMeta.from_header(header)
        _fs.atomic_write(self._meta_path(key_id, epoch), meta.to_json())
        if activate:
            self.activate_epoch(key_id, epoch)
        return meta

    def activate_epoch(self, key_id: str, epoch: int) -> None:
        """Point `get_share(key_id)` at `epoch` (which must be stored)."""
        if not self._share_path(key_id, epoch).exists():
            raise ShareNotFoundError(
                f"cannot activate key {key_id!r} epoch {epoch}: no such share on node {self.node_id!r}")
        _fs.atomic_write(self._key_dir(key_id) / "active", _blob.canonical_json({"epoch": epoch}))

    # -- reading -----------------------------------------------------------------------------

    def active_epoch(self, key_id: str) -> int | None:
        raw = _fs.read_file(self._key_dir(key_id) / "active")
        if raw is None:
            return None
        try:
            return _check_epoch(json.loads(raw)["epoch"])
        except (ValueError, KeyError, TypeError, StorageError):
            raise StorageError(f"active-epoch pointer of key {key_id!r} is corrupt") from None

    def _resolve(self, key_id: str, epoch: int | None) -> int:
        if epoch is not None:
            return _check_epoch(epoch)
        active = self.active_epoch(key_id)
        if active is None:
            raise ShareNotFoundError(f"key {key_id!r} has no active share on node {self.node_id!r}")
        return active

    def open_share(self, key_id: str, epoch: int | None = None) -> ShareRecord:
        """Decrypt a share (the active epoch by default) and return it with its authenticated meta."""
        epoch = self._resolve(key_id, epoch)
        path = self._share_path(key_id, epoch)
        blob = _fs.read_file(path)
        if blob is None:
            raise ShareNotFoundError(f"no share of key {key_id!r} epoch {epoch} on node {self.node_id!r}")
        header, secret = _blob.open_blob(self._wrapper, blob, kind=SHARE_KIND, node_id=self.node_id,
                                         context={"key_id": key_id, "epoch": epoch},
                                         what=f"share {key_id}/epoch-{epoch}")
        return ShareRecord(ShareMeta.from_header(header), secret)

    def get_share(self, key_id: str, epoch: int | None = None) -> bytes:
        """The secret share bytes; keep them short-lived (SECURITY.md H5)."""
        return self.open_share(key_id, epoch).secret

    def get_meta(self, key_id: str, epoch: int | None = None) -> ShareMeta:
        """Public metadata without Vault. Not authenticated: use `open_share` when it matters."""
        epoch = self._resolve(key_id, epoch)
        raw = _fs.read_file(self._meta_path(key_id, epoch))
        if raw is not None:
            try:
                d = json.loads(raw)
                return ShareMeta(key_id=d["key_id"], node_id=d["node_id"], epoch=int(d["epoch"]), created=d["created"],
                                 public=dict(d["public"]), wrapped_by=d["wrapped_by"])
            except (ValueError, KeyError, TypeError):
                pass  # fall back to the share's header below
        blob = _fs.read_file(self._share_path(key_id, epoch))
        if blob is None:
            raise ShareNotFoundError(f"no share of key {key_id!r} epoch {epoch} on node {self.node_id!r}")
        header, _, _ = _blob.read_header(blob, what=f"share {key_id}/epoch-{epoch}")
        return ShareMeta.from_header(header)

    def has_share(self, key_id: str, epoch: int | None = None) -> bool:
        if epoch is None:
            return self.active_epoch(key_id) is not None
        return self._share_path(key_id, epoch).exists()

    def epochs(self, key_id: str) -> list[int]:
        """Stored epochs of `key_id`, ascending (active or not)."""
        try:
            names = [p.name for p in self._key_dir(key_id).iterdir()]
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := _EPOCH_FILE.fullmatch(n)))

    def list_keys(self) -> list[str]:
        """Key ids that have at least one stored share."""
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and self.epochs(p.name))

    # -- retiring ----------------------------------------------------------------------------

    def delete_epoch(self, key_id: str, epoch: int, *, force: bool = False) -> bool:
        """Remove one epoch's share and meta. The active epoch is refused unless `force`."""
        if not force and self.active_epoch(key_id) == epoch:
            raise StorageError(f"refusing to delete the active epoch {epoch} of key {key_id!r}")
        removed = _fs.remove(self._share_path(key_id, epoch))
        _fs.remove(self._meta_path(key_id, epoch))
        return removed

    def retire_epochs_before(self, key_id: str, epoch: int) -> list[int]:
        """After a confirmed reshare: delete every epoch below `epoch`, which must be active."""
        if self.active_epoch(key_id) != epoch:
            raise StorageError(f"epoch {epoch} of key {key_id!r} is not active; old epochs are kept")
        old = [e for e in self.epochs(key_id) if e < epoch]
        for e in old:
            self.delete_epoch(key_id, e)
        return old

    def sweep_temp_files(self, older_than: float = 3600.0) -> int:
        """Remove temp files left by crashed writes (run at node start); returns how many."""
        return _fs.sweep_temp(self.root, older_than)

    def delete_key(self, key_id: str) -> None:
        """Remove every epoch of `key_id` (key deletion)."""
        for e in self.epochs(key_id):
            self.delete_epoch(key_id, e, force=True)
        _fs.remove(self._key_dir(key_id) / "active")


def _check_epoch(epoch: Any) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < 10**18:
        raise StorageError(f"invalid epoch {epoch!r}: a non-negative integer")
    return epoch


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["SHARE_KIND", "ShareMeta", "ShareRecord", "ShareStore"]
