"""Wait for a file to be created in a folder without polling (Linux inotify through libc).

Why: a poll of `os.listdir` can miss a temporary file that lives for microseconds (an atomic write's
temp file before its rename); the kernel queues inotify events, so a creation is never missed."""

from __future__ import annotations

import ctypes
import os
import select
import struct
import time
from collections.abc import Callable
from pathlib import Path

IN_CREATE = 0x00000100
IN_NONBLOCK = 0o4000
_EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len

_libc = ctypes.CDLL(None, use_errno=True)


class CreationWatch:
    """Watch `folder` for created entries; use as a context manager, then `wait_for(match, timeout)`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fd = -1

    def __enter__(self) -> CreationWatch:
        self.fd = _libc.inotify_init1(IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if _libc.inotify_add_watch(self.fd, os.fsencode(self.folder), IN_CREATE) < 0:
            errno = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(errno, f"inotify_add_watch failed for {self.folder}")
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)

    def wait_for(self, match: Callable[[str], bool], timeout: float) -> str:
        """The name of the first created entry that `match` accepts; TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.fd], [], [], left)
            if not readable:
                continue
            data = os.read(self.fd, 65536)
            offset = 0
            while offset < len(data):
                _, _, _, length = _EVENT_HEADER.unpack_from(data, offset)
                offset += _EVENT_HEADER.size
                name = data[offset:offset + length].rstrip(b"\0").decode()
                offset += length
                if match(name):
                    return name
        raise TimeoutError(f"no matching entry created in {self.folder} within {timeout} s")
