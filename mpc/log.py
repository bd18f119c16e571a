"""Structured JSON logs at LOG_LEVEL, with an allow-list of extra fields.

Only fields named in `ALLOWED_FIELDS` are copied from a record's ``extra``; anything else (a
share, a nonce, a decrypted value passed by mistake) is dropped, never printed (SECURITY.md H6).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

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


def configure_logging(level: str = "INFO", *, service: str = "mpc") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "hvac", "urllib3", "temporalio.activity", "temporalio.workflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.LoggerAdapter(logging.getLogger("mpc"), {"service": service})
