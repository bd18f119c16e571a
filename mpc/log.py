"""Structured JSON logs at LOG_LEVEL, with an allow-list of extra fields.

Only fields named in `ALLOWED_FIELDS` are copied from a record's ``extra``; anything else (a
share, a nonce, a decrypted value passed by mistake) is dropped, never printed (SECURITY.md H6).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

ALLOWED_FIELDS = frozenset({
    "node_id", "key_id", "session_id", "workflow_id", "protocol", "curve", "operation", "round", "status",
    "duration_ms", "culprit", "error_code", "service", "address", "port", "method", "path", "status_code",
    "participants", "count", "attempt",
})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in ALLOWED_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", *, service: str = "mpc", log_file: Path | None = None,
                      max_bytes: int = 100 * 1024 * 1024, backups: int = 10) -> None:
    """JSON lines on stderr and, with `log_file` (LOG_FILE), also in that file, rotated at `max_bytes` keeping
    `backups` old files (`mpc.log.1` ...). The file is created 0640 and its directory must exist (the systemd
    units' LogsDirectory, /var/log/mpc): a logging set-up that cannot write fails the start, loudly."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(_rotating_file(log_file, max_bytes, backups))
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "hvac", "urllib3", "temporalio.activity", "temporalio.workflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.LoggerAdapter(logging.getLogger("mpc"), {"service": service})


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Every log file it opens, the first and each new one after a rotation, is created 0640 (never
    world-readable: log lines name keys, sessions and nodes), whatever the process umask."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _rotating_file(path: Path, max_bytes: int, backups: int) -> RotatingFileHandler:
    if not path.parent.is_dir():
        raise OSError(f"LOG_FILE: directory {path.parent} does not exist")
    return _PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
