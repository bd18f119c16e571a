"""Private directories and crash-safe file writes.

Why this shape: a share file must be either the old version or the complete new one, whatever
happens (power loss, kill -9, disk full). So each write goes to a temp file in the same
directory (same file system, so rename is atomic), is fsynced, renamed over the target, and the
directory is fsynced so the rename itself survives a crash. On any error the temp file is
removed and the target is left as it was.

`one_sync()` trades per-file durability for one flush per activity where that is safe: inside it, writes,
markers and unlinks skip their own fsyncs, and the directories they touched are fsynced once when the block
ends, before the caller returns anything. The caller must only use it where a file that a crash leaves
missing, empty or torn fails closed: a consumed-nonce marker counts by its existence (the directory entry,
which the final fsync makes durable), an intent record or a stored answer that no longer reads is an
error that refuses the request, and a nonce file that no longer reads is a nonce that is never used.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mpc.keystore.errors import ShareExistsError, StorageError, StorageFullError

DIR_MODE = 0o700
FILE_MODE = 0o600
TEMP_SUFFIX = ".tmp"
MAX_FILE_BYTES = 64 * 1024 * 1024

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@=+-]{0,127}")


def check_name(value: str, what: str) -> str:
    """Refuse names that could escape the store's directory or clash with temp files."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value.endswith(TEMP_SUFFIX) or ".." in value:
        raise StorageError(f"invalid {what} {value!r}: use 1-128 of [A-Za-z0-9_.:@=+-], not starting with '.'")
    return value


def os_error(exc: OSError, action: str, path: Path) -> StorageError:
    """Map an OSError to the keystore error type (disk full gets its own class)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(f"{action} {path}: no space left on device; previous version untouched")
    return StorageError(f"{action} {path}: {exc.strerror or type(exc).__name__} (errno {exc.errno})")


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 and check it is a real directory we own.

    A directory it creates is made durable in its parent (fsync of the parent, or at the end of `one_sync`):
    otherwise a crash could lose a new session's or intent's directory with the records fsynced inside it."""
    created = []
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        created.append(ancestor)
        ancestor = ancestor.parent
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        for folder in created:
            if not _deferred(folder.parent):
                fsync_dir(folder.parent)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise StorageError(f"{path} is not a directory (symlinks are refused)")
        if stat.S_IMODE(st.st_mode) != DIR_MODE:
            os.chmod(path, DIR_MODE)
    except OSError as exc:
        raise os_error(exc, "create directory", path) from None
    return path


_DEFERRED: contextvars.ContextVar[set[Path] | None] = contextvars.ContextVar("mpc_keystore_one_sync", default=None)


@contextlib.contextmanager
def one_sync() -> Iterator[None]:
    """Defer the fsyncs of the writes in this block to one fsync per touched directory at its end (see the
    module docstring for when that is safe). Nested blocks sync with the outermost."""
    if _DEFERRED.get() is not None:
        yield
        return
    touched: set[Path] = set()
    token = _DEFERRED.set(touched)
    try:
        yield
    finally:
        _DEFERRED.reset(token)
        for folder in sorted(touched):
            try:
                fsync_dir(folder)
            except OSError as exc:
                raise os_error(exc, "sync", folder) from None


def _deferred(folder: Path) -> bool:
    """Inside `one_sync`: note the directory for the final fsync and skip this write's own."""
    touched = _DEFERRED.get()
    if touched is None:
        return False
    touched.add(folder)
    return True


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to `path` atomically and durably, file mode 0600.

    Args:
        replace: if False, fail with `ShareExistsError` when `path` exists (create-only, done with
            link(2) so two writers racing for the same name cannot both win).
    """
    parent = path.parent
    tmp: str | None = None
    deferred = _deferred(parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)  # mode 0600
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            if not deferred:
                os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
            tmp = None
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ShareExistsError(f"{path} already exists") from None
        if not deferred:
            fsync_dir(parent)
    except OSError as exc:
        raise os_error(exc, "write", path) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create `path` with `data` durably unless it exists; return False if it already existed.

    Used for consumed-nonce markers: O_EXCL makes the check-and-mark one atomic step, also between
    processes, and the fsyncs make the mark survive a crash before the caller sees the secret.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    except OSError as exc:
        raise os_error(exc, "create", path) from None
    deferred = _deferred(path.parent)  # the marker counts by its directory entry, which the final fsync keeps
    try:
        try:
            _write_all(fd, data)
            if not deferred:
                os.fsync(fd)
        finally:
            os.close(fd)
        if not deferred:
            fsync_dir(path.parent)
    except OSError as exc:
        # An empty marker still marks the nonce as used: keep it (failing safe), only report.
        raise os_error(exc, "write marker", path) from None
    return True


def read_file(path: Path) -> bytes | None:
    """Read a whole file, or None if it does not exist."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(exc, "read", path) from None
    if len(data) > MAX_FILE_BYTES:
        raise StorageError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    return data


def remove(path: Path) -> bool:
    """Unlink a file and fsync its directory; False if it was not there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise os_error(exc, "remove", path) from None
    if not _deferred(path.parent):
        fsync_dir(path.parent)
    return True


def claim_root(root: Path, node_id: str) -> None:
    """Bind a storage directory to one node, so two nodes never share (or swap) a store."""
    marker = root / ".node"
    raw = read_file(marker)
    if raw is None:
        with contextlib.suppress(ShareExistsError):
            atomic_write(marker, json.dumps({"node_id": node_id}).encode(), replace=False)
        raw = read_file(marker) or b"{}"
    try:
        owner = json.loads(raw).get("node_id")
    except ValueError:
        owner = None
    if owner != node_id:
        raise StorageError(f"{root} belongs to node {owner!r}, not {node_id!r}")


def is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def sweep_temp(root: Path, older_than: float) -> int:
    """Remove temp files a crash left behind (sealed, so harmless, but clutter). Only old ones:
    a young temp file may belong to a write in progress in another process."""
    cutoff, count = time.time() - older_than, 0
    for path in root.rglob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                count += 1
    return count


__all__ = ["atomic_write", "check_name", "create_exclusive", "ensure_private_dir", "read_file", "remove"]
