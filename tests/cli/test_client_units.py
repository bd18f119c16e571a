"""Client pieces without a stack: where the URL and token come from, the progress line, error lines."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from mpc.cli import client_api
from mpc.cli.client import _fields, _table, add_client_commands
from mpc.cli.client_api import ClientError, ClientSettings, Progress, _error_from
from mpc.cli.main import build_parser


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setattr(client_api, "DEFAULT_TOKEN_FILE", tmp_path / "absent")
    env = {"MPC_API_URL": "http://env:1/", "MPC_API_TOKEN": "from-env"}
    assert ClientSettings.resolve(None, None, None, env) == ClientSettings("http://env:1", "from-env")
    flags = ClientSettings.resolve("http://flag:2", "flag", str(token_file), env)
    assert flags == ClientSettings("http://flag:2", "flag")
    assert ClientSettings.resolve(None, None, str(token_file), env).token == "from-file"
    assert ClientSettings.resolve(None, None, None, {}) == ClientSettings("http://127.0.0.1:8080", None)
    monkeypatch.setattr(client_api, "DEFAULT_TOKEN_FILE", token_file)
    assert ClientSettings.resolve(None, None, None, {}).token == "from-file"
    with pytest.raises(ClientError, match="cannot read"):
        ClientSettings.resolve(None, None, str(tmp_path / "missing"), {})


def test_progress_lines_without_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(out)
    session = {"operation": "sign", "session_id": "s1", "status": "running", "current_round": 1, "total_rounds": 2}
    progress.show(session)
    progress.show(session)  # unchanged: no new line
    progress.show({**session, "current_round": 2})
    progress.close()
    assert out.getvalue().splitlines() == ["sign s1: running, round 1/2", "sign s1: running, round 2/2"]


def test_api_error_is_one_line() -> None:
    reply = httpx.Response(404, json={"error": {"code": "key_not_found", "message": "key k does not exist"}})
    assert _error_from(reply).line() == "mpc: error key_not_found: key k does not exist (HTTP 404)"
    plain = _error_from(httpx.Response(502, text="bad gateway"))
    assert plain.code == "http_502" and "bad gateway" in plain.message


def test_parser_and_formatting() -> None:
    args = build_parser().parse_args(["keys", "create", "--chain-type", "solana", "--threshold", "2", "--nodes",
                                      "a,b,c", "--tag", "k=v", "--tag", "x=y=z"])
    assert args.nodes == ["a", "b", "c"] and dict(args.tag) == {"k": "v", "x": "y=z"} and args.protocol is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["keys", "create", "--chain-type", "solana", "--threshold", "2",
                                   "--nodes", "a", "--total-nodes", "3"])
    assert callable(add_client_commands)
    shown = _fields({"a": 1, "b": None, "c": ["x", "y"], "d": {"k": "v"}}, ("a", "b", "c", "d"))
    assert shown == "a: 1\nc: x,y\nd: k=v"
    assert _table(["A", "BB"], [["xyz", "1"]]) == "A    BB\nxyz  1"
