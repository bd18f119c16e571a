"""LOG_FILE: JSON lines in a file as well as on stderr, rotated by size, not world-readable; the server commands
configure it from the settings."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpc.log import configure_logging
from mpc.settings import Settings, SettingsError, load_settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:], root.level = handlers, level


def test_log_file_rotates_and_keeps_json_lines(tmp_path: Path, restore_logging: None) -> None:
    path = tmp_path / "mpc.log"
    configure_logging("INFO", service="test", log_file=path, max_bytes=2000, backups=2)
    log = logging.getLogger("mpc.test")
    for i in range(100):
        log.info("line %d", i, extra={"key_id": f"k{i}", "share": "never-written"})
    rotated = sorted(tmp_path.glob("mpc.log.*"))
    for file in (path, *rotated):  # the first file and every one opened after a rotation
        assert stat.S_IMODE(file.stat().st_mode) & 0o027 == 0, file
    assert [p.name for p in rotated] == ["mpc.log.1", "mpc.log.2"]  # at most LOG_BACKUPS old files
    lines = [json.loads(line) for p in (path, *rotated) for line in p.read_text().splitlines()]
    assert all(p.stat().st_size <= 2000 for p in (path, *rotated))
    assert lines and all(entry["logger"] == "mpc.test" for entry in lines)
    assert {entry["msg"] for entry in lines} >= {"line 99"}
    assert not any("share" in entry or "never-written" in json.dumps(entry) for entry in lines)


def test_log_file_directory_must_exist(tmp_path: Path, restore_logging: None) -> None:
    with pytest.raises(OSError, match="LOG_FILE"):
        configure_logging("INFO", log_file=tmp_path / "missing" / "mpc.log")


def test_settings_name_the_log_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("MPC_CONFIG", str(tmp_path / "config.yaml"))
    (tmp_path / "config.yaml").write_text(f"logging:\n  file: {tmp_path / 'mpc.log'}\n  max_size: 4096\n"
                                          "  backups: 3\n")
    settings = load_settings()
    assert (settings.log_file, settings.log_max_bytes, settings.log_backups) == (tmp_path / "mpc.log", 4096, 3)
    monkeypatch.setenv("LOG_MAX_BYTES", "10")
    with pytest.raises(SettingsError, match="LOG_MAX_BYTES"):
        load_settings()
