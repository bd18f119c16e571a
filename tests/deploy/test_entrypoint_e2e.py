"""The image's entry point and health check driving the real processes, as the containers do.

The compose one-shot deploy/compose/node-tokens.sh issues the participant's API token (role node).

The API and a participant are started through deploy/docker-entrypoint.sh (subcommand dispatch,
*_FILE secrets, NODE_ID from POD_NAME) against the session's real services; the participant's Vault
token is limited by deploy/vault/policies/participant.hcl.tmpl to its own transit key, so this also
proves that policy is enough for a participant to start, seal its identity and register.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mpc.devstack.ports import free_port
from mpc.devstack.process import ManagedProcess
from tests.deploy.conftest import ROOT

pytestmark = pytest.mark.integration

ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"
NODE = "node-e2e"
PERIOD = 10  # seconds


def _healthcheck():
    spec = importlib.util.spec_from_file_location("mpc_healthcheck_e2e", ROOT / "deploy" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _container_env(stack_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in stack_env.items() if k not in ("PAYLOAD_CODEC_KEY", "VAULT_TOKEN", "API_TOKEN")}
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return env


def _limited_vault_token(openbao_server, key: str, period: str = "1h") -> str:
    openbao_server.ensure_transit_key(key)
    policy = (ROOT / "deploy" / "vault" / "policies" / "participant.hcl.tmpl").read_text()
    policy = policy.replace("@MOUNT@", "transit").replace("@KEY@", key)
    headers = {"X-Vault-Token": openbao_server.token}
    with httpx.Client(base_url=openbao_server.address, headers=headers, timeout=10) as client:
        client.put(f"/v1/sys/policies/acl/{key}", json={"policy": policy}).raise_for_status()
        reply = client.post("/v1/auth/token/create-orphan",
                            json={"policies": [key], "no_default_policy": True, "period": period})
        reply.raise_for_status()
        return reply.json()["auth"]["client_token"]


def test_api_and_participant_through_the_entrypoint(stack_env, openbao_server, payload_codec_key, admin_token,
                                                    tmp_path, monkeypatch) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "payload-codec-key").write_text(payload_codec_key + "\n")
    env = {**_container_env(stack_env), "PAYLOAD_CODEC_KEY_FILE": str(secrets_dir / "payload-codec-key"),
           "MPC_VAULT_LOGIN": f"{sys.executable} {ROOT / 'deploy' / 'vault_login.py'}",
           "VAULT_RENEW_MIN_INTERVAL": "1"}

    # the compose one-shot issues the participant's API token (role node) into its credentials dir
    credentials = tmp_path / "credentials"
    (credentials / NODE).mkdir(parents=True, mode=0o700)
    issued = subprocess.run(["/bin/sh", str(ROOT / "deploy" / "compose" / "node-tokens.sh")],
                            env={**env, "PARTICIPANTS": NODE, "CREDENTIALS_DIR": str(credentials)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    api_token = credentials / NODE / "api-token"
    assert oct(api_token.stat().st_mode & 0o777) == "0o400"
    assert len(api_token.read_text().split()) == 1  # the token alone, no log line
    again = subprocess.run(["/bin/sh", str(ROOT / "deploy" / "compose" / "node-tokens.sh")],
                           env={**env, "PARTICIPANTS": NODE, "CREDENTIALS_DIR": str(credentials)},
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "keeps its API token" in again.stdout

    current = subprocess.run(["/bin/sh", str(ENTRYPOINT), "migrate", "current"], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert current.returncode == 0 and "database at revision" in current.stdout, current.stderr

    port = free_port()
    api = ManagedProcess("entrypoint-api", ["/bin/sh", str(ENTRYPOINT), "api"], log_path=tmp_path / "api.log",
                         env={**env, "NODE_TYPE": "api", "NODE_ID": "api-e2e", "HTTP_PORT": str(port)})
    participant = None
    try:
        api.start()
        health = _healthcheck()
        monkeypatch.setenv("HTTP_PORT", str(port))
        monkeypatch.delenv("TLS_ENABLED", raising=False)
        api.wait_until(lambda: health.check_http("/ready"), 90)
        assert health.check_http("/health")
        url = f"http://127.0.0.1:{port}"

        # a periodic token far shorter than the test: only the entry point's renewer keeps it alive
        vault_token = _limited_vault_token(openbao_server, f"mpc-{NODE}", period=f"{PERIOD}s")
        (secrets_dir / "vault-token").write_text(vault_token + "\n")
        participant = ManagedProcess(
            "entrypoint-participant", ["/bin/sh", str(ENTRYPOINT), "worker", "participant"],
            log_path=tmp_path / "participant.log",
            env={**env, "NODE_TYPE": "participant", "POD_NAME": NODE, "COORDINATOR_ENDPOINT": url,
                 "KEY_SHARE_STORAGE_PATH": str(tmp_path / "shares"),
                 "API_TOKEN_FILE": str(api_token),
                 "VAULT_TOKEN_FILE": str(secrets_dir / "vault-token")})
        participant.start()
        deadline = time.monotonic() + 90
        online = False
        while time.monotonic() < deadline and not online:
            nodes = httpx.get(f"{url}/v1/nodes", headers={"Authorization": f"Bearer {admin_token}"},
                              timeout=5).json()["nodes"]
            online = any(n["node_id"] == NODE and n["status"] == "online" for n in nodes)
            time.sleep(0.5)
        log = (tmp_path / "participant.log").read_text() if (tmp_path / "participant.log").exists() else ""
        assert online, f"{NODE} did not come online; its log:\n{log[-3000:]}"
        # the participant wrote its store under KEY_SHARE_STORAGE_PATH, no file readable by others
        files = [p for p in (tmp_path / "shares").rglob("*") if p.is_file()]
        assert files and all(p.stat().st_mode & 0o077 == 0 for p in files)

        # after more than two periods the participant's token is still valid: it is being renewed
        time.sleep(2.5 * PERIOD)
        lookup = httpx.get(f"{openbao_server.address}/v1/auth/token/lookup-self",
                           headers={"X-Vault-Token": vault_token}, timeout=10)
        assert lookup.status_code == 200, lookup.text
        assert lookup.json()["data"]["ttl"] > 0
    finally:
        if participant:
            participant.stop()
        api.stop()
