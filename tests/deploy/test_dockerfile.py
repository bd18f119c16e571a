"""Dockerfile, .dockerignore, the image's entry point and health check."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DOCKERFILE, ROOT

DEPLOY = ROOT / "deploy"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _runtime_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_multi_stage_slim_runtime() -> None:
    froms = [rest for word, rest in _instructions() if word == "FROM"]
    assert len(froms) >= 2
    assert all("slim" in f and ":latest" not in f for f in froms)
    runtime = " ".join(rest for _, rest in _runtime_stage())
    assert "build-essential" not in runtime and "gcc" not in runtime  # compilers stay in the build stage
    assert "COPY --from=build /opt/venv /opt/venv" in " ".join(f"{w} {r}" for w, r in _runtime_stage())


def test_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    runtime = _runtime_stage()
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert int(users[-1].split(":")[0]) >= 10000  # numeric: Kubernetes runAsNonRoot can verify it
    health = [rest for word, rest in runtime if word == "HEALTHCHECK"]
    assert health and "mpc-healthcheck" in health[0]
    entrypoint = [rest for word, rest in runtime if word == "ENTRYPOINT"]
    cmd = [rest for word, rest in runtime if word == "CMD"]
    assert "mpc-entrypoint" in entrypoint[-1] and cmd[-1] == '["serve"]'
    assert {"8080", "9090"} <= set(" ".join(r for w, r in runtime if w == "EXPOSE").split())


def test_no_secret_is_baked_in() -> None:
    for word, rest in _instructions():
        if word in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(PASSWORD|TOKEN|SECRET|CODEC_KEY|ENCRYPTION_KEY)", rest, re.I), rest
        if word in ("COPY", "ADD"):
            assert ".env" not in rest and "*.pem" not in rest, rest
    assert not [w for w, _ in _instructions() if w == "ADD"]
    ignore = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".git", ".venv", ".data", "tests"):
        assert entry in ignore, f".dockerignore lacks {entry}"


def test_copied_sources_exist() -> None:
    for word, rest in _instructions():
        if word == "COPY" and "--from" not in rest:
            sources = [s for s in rest.split()[:-1] if not s.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY source {source} missing"


def test_the_image_gets_every_package_and_data_file() -> None:
    """The build stage COPYs every top-level package of pyproject.toml, and `pip install .` ships all
    of it: every directory with Python files is a package, every other file matches package-data."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    tops = sorted({pattern.rstrip("*") for pattern in config["packages"]["find"]["include"]})
    build_stage = _instructions()[:max(i for i, (w, _) in enumerate(_instructions()) if w == "FROM")]
    copied = {rest.split()[0] for word, rest in build_stage if word == "COPY"}
    assert set(tops) <= copied, f"not copied into the build stage: {set(tops) - copied}"
    data_patterns = config["package-data"]["*"]
    tracked = subprocess.run(["git", "ls-files", *tops], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for name in tracked:
        path = ROOT / name
        if name.endswith(".py"):
            assert (path.parent / "__init__.py").exists(), f"{path.parent} is not a package: left out of the image"
        else:
            assert any(fnmatch.fnmatch(path.name, p) for p in data_patterns), f"{name} is not package data"
    assert any("migrations/versions/" in name for name in tracked)  # `mpc migrate up` needs them


# ---- entry point --------------------------------------------------------------------------------
@pytest.fixture
def entrypoint_env(tmp_path: Path) -> dict[str, str]:
    """PATH with a stub `mpc` that prints its arguments and the variables the entry point sets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "mpc"
    stub.write_text('#!/bin/sh\necho "ARGS=$*"\necho "API_TOKEN=${API_TOKEN:-}"\necho "NODE_ID=${NODE_ID:-}"\n'
                    'echo "VAULT_TOKEN=${VAULT_TOKEN:-}"\necho "FILE=${API_TOKEN_FILE:-unset}"\n')
    stub.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(DEPLOY / "docker-entrypoint.sh"), *args],
                          env=env, capture_output=True, text=True, timeout=30, check=False)


def test_entrypoint_defaults_to_serve_and_passes_subcommands(entrypoint_env) -> None:
    assert "ARGS=serve" in _run(entrypoint_env).stdout
    assert "ARGS=worker participant" in _run(entrypoint_env, "worker", "participant").stdout
    assert "ARGS=migrate up" in _run(entrypoint_env, "mpc", "migrate", "up").stdout
    assert _run(entrypoint_env, "/bin/echo", "hello").stdout.strip() == "hello"


def test_entrypoint_reads_secrets_from_files(entrypoint_env, tmp_path) -> None:
    token = tmp_path / "api-token"
    token.write_text("tok-from-file\n")
    out = _run({**entrypoint_env, "API_TOKEN_FILE": str(token), "POD_NAME": "node-2"}, "worker", "participant")
    assert out.returncode == 0, out.stderr
    assert "API_TOKEN=tok-from-file" in out.stdout and "FILE=unset" in out.stdout
    assert "NODE_ID=node-2" in out.stdout
    both = _run({**entrypoint_env, "API_TOKEN_FILE": str(token), "API_TOKEN": "x"}, "api")
    assert both.returncode == 2 and "both API_TOKEN and API_TOKEN_FILE" in both.stderr
    missing = _run({**entrypoint_env, "DB_PASSWORD_FILE": str(tmp_path / "nope")}, "api")
    assert missing.returncode == 2 and "DB_PASSWORD_FILE" in missing.stderr


def test_entrypoint_node_id_wins_over_pod_name(entrypoint_env) -> None:
    out = _run({**entrypoint_env, "NODE_ID": "node-7", "POD_NAME": "node-2"}, "worker", "participant")
    assert "NODE_ID=node-7" in out.stdout


# ---- health check -------------------------------------------------------------------------------
def _healthcheck_module():
    spec = importlib.util.spec_from_file_location("mpc_healthcheck", DEPLOY / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("argv", "node_type", "expected"), [
    (["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint", "serve"], "coordinator", "http"),
    (["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint", "serve"], "participant", "worker"),
    (["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint"], "coordinator", "http"),
    (["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint", "api"], "participant", "http"),
    (["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint", "worker", "coordinator"], "coordinator", "worker"),
    (["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint", "migrate", "up"], "coordinator", "oneshot"),
    (["/bin/sh", "/deploy/compose/node-tokens.sh"], "coordinator", "oneshot"),
])
def test_healthcheck_role_from_the_command(argv, node_type, expected) -> None:
    assert _healthcheck_module().role(argv, node_type) == expected


def test_healthcheck_http_probe_against_a_local_server(monkeypatch) -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        module = _healthcheck_module()
        monkeypatch.setenv("HTTP_PORT", str(server.server_port))
        monkeypatch.delenv("TLS_ENABLED", raising=False)
        assert module.check_http("/health") is True
        assert module.check_http("/ready") is False
    finally:
        server.shutdown()


def test_healthcheck_reads_settings_from_env_then_config_file(tmp_path, monkeypatch) -> None:
    import socket

    module = _healthcheck_module()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        config = tmp_path / "config.yaml"
        config.write_text(f"temporal:\n  address: 127.0.0.1:{port}\ntls:\n  enabled: true\nhttp_port: 9443\n")
        monkeypatch.setenv("MPC_CONFIG", str(config))
        for name in ("TEMPORAL_ADDRESS", "TLS_ENABLED", "HTTP_PORT"):
            monkeypatch.delenv(name, raising=False)
        assert module.setting("TEMPORAL_ADDRESS", "temporal", "address", "x") == f"127.0.0.1:{port}"
        assert module.setting("TLS_ENABLED", "tls", "enabled", "false") == "True"
        assert module.setting("HTTP_PORT", "server", "http_port", "8080") == "9443"  # flat key
        assert module.temporal_reachable() is True
        monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # the environment wins
        assert module.temporal_reachable() is False
    finally:
        listener.close()


def test_image_sets_no_setting_that_would_shadow_the_config_file() -> None:
    from mpc.settings import Settings

    names = {name.upper() for name in Settings.model_fields}
    for word, rest in _runtime_stage():
        if word == "ENV":
            assigned = set(re.findall(r"([A-Z_]+)=", rest))
            assert not assigned & names, assigned & names


def test_image_requires_an_explicit_environment() -> None:
    """SECURITY.md A6: the image sets the marker, so a container without ENVIRONMENT refuses to start."""
    from mpc.settings import REQUIRE_ENVIRONMENT

    assigned = {name: value for word, rest in _runtime_stage() if word == "ENV"
                for name, value in re.findall(r"([A-Z_]+)=(\S+)", rest)}
    assert assigned.get(REQUIRE_ENVIRONMENT) == "1", assigned
    assert "ENVIRONMENT" not in assigned  # the deployment says it, never the image


def test_scripts_are_executable_and_parse() -> None:
    for script in [DEPLOY / "docker-entrypoint.sh", *DEPLOY.rglob("*.sh")]:
        assert os.access(script, os.X_OK), f"{script} is not executable"
        check = subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, text=True,
                               check=False)
        assert check.returncode == 0, f"{script}: {check.stderr}"
    for script in ("healthcheck.py", "vault_login.py"):
        assert os.access(DEPLOY / script, os.X_OK)
        compile((DEPLOY / script).read_text(), script, "exec")


def test_hadolint_passes_with_the_reasoned_ignores() -> None:
    hadolint = ROOT / ".venv" / "tools" / "checkov" / "bin" / "hadolint"
    if not hadolint.exists():
        pytest.fail(f"hadolint is not installed at {hadolint}: run ./scripts/bootstrap.sh")
    result = subprocess.run([str(hadolint), "--no-color", "--config", str(DEPLOY / "hadolint.yaml"),
                             str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
