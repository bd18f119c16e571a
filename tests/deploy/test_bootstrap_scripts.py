"""The compose and Kubernetes bootstrap scripts, run against real local servers (pip-installed `bao`
and `temporal` binaries): OpenBao with the compose stack's own config file, the Temporal dev server.

Proves what the deployment relies on: each participant's Vault token reaches its own transit key and
no other (compose: per-node policies; Kubernetes: one templated policy and a JWT login per pod), the
bootstrap is idempotent and unseals a restarted server, and the search attributes get registered.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mpc.devstack.ports import free_port, port_accepts
from mpc.devstack.temporal import SEARCH_ATTRIBUTES
from tests.deploy.conftest import ROOT

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy"
NODES = ("node-1", "node-2", "node-3")


def _need(binary: str) -> str:
    path = BIN / binary
    if not path.exists():
        pytest.fail(f"{path} is missing: run ./scripts/bootstrap.sh (dev extra)")
    return str(path)


class Server:
    """A background process in its own process group, stopped by its pid."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.log, self.env = argv, log, env
        self.proc: subprocess.Popen | None = None

    def start(self, port: int, timeout: float = 60) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not port_accepts("127.0.0.1", port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[0]} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="module")
def openbao(tmp_path_factory) -> Iterator[dict]:
    """OpenBao started from deploy/openbao/config.hcl (storage path and port adapted), uninitialised."""
    bao = _need("bao")
    work = tmp_path_factory.mktemp("openbao")
    port = free_port()
    config = (DEPLOY / "openbao" / "config.hcl").read_text()
    config = config.replace('"/openbao/file"', json.dumps(str(work / "file")))
    cluster = free_port()
    for old, new in (('"0.0.0.0:8200"', f'"127.0.0.1:{port}"'), ('"0.0.0.0:8201"', f'"127.0.0.1:{cluster}"'),
                     ("http://vault:8200", f"http://127.0.0.1:{port}"),
                     ("http://vault:8201", f"http://127.0.0.1:{cluster}")):
        assert old in config, old
        config = config.replace(old, new)
    (work / "file").mkdir()
    (work / "config.hcl").write_text(config)
    server = Server([bao, "server", f"-config={work / 'config.hcl'}"], work / "server.log")
    server.start(port)
    (work / "init").mkdir()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "BAO_ADDR": f"http://127.0.0.1:{port}", "INIT_DIR": str(work / "init"),
           "CREDENTIALS_DIR": str(work / "credentials"), "MPC_UID": str(os.getuid()),
           "POLICY_TEMPLATE": str(DEPLOY / "vault" / "policies" / "participant.hcl.tmpl"),
           "PARTICIPANTS": " ".join(NODES)}
    env.pop("BAO_TOKEN", None)
    env.pop("VAULT_TOKEN", None)
    try:
        yield {"server": server, "port": port, "addr": f"http://127.0.0.1:{port}", "env": env, "work": work}
    finally:
        server.stop()


def _bootstrap(openbao: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(["/bin/sh", str(DEPLOY / "vault" / "bootstrap.sh")], env=openbao["env"],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _datakey(addr: str, token: str, key: str) -> int:
    reply = httpx.post(f"{addr}/v1/transit/datakey/plaintext/{key}", headers={"X-Vault-Token": token},
                       json={"bits": 256}, timeout=10)
    return reply.status_code


def _root_token(openbao: dict) -> str:
    return json.loads((openbao["work"] / "init" / "init.json").read_text())["root_token"]


def test_compose_vault_bootstrap_gives_each_node_only_its_own_key(openbao) -> None:
    first = _bootstrap(openbao)
    assert "initialising" in first.stdout and "done" in first.stdout
    tokens = {}
    for node in NODES:
        path = openbao["work"] / "credentials" / node / "vault-token"
        assert oct(path.stat().st_mode & 0o777) == "0o400"
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
        tokens[node] = path.read_text().strip()
    for node in NODES:
        for other in NODES:
            expected = 200 if node == other else 403
            assert _datakey(openbao["addr"], tokens[node], f"mpc-{other}") == expected, (node, other)
    # the keystore's other calls: unwrap with its own key, read its key's metadata
    reply = httpx.post(f"{openbao['addr']}/v1/transit/datakey/plaintext/mpc-node-1",
                       headers={"X-Vault-Token": tokens["node-1"]}, json={"bits": 256}, timeout=10).json()
    decrypt = httpx.post(f"{openbao['addr']}/v1/transit/decrypt/mpc-node-1",
                         headers={"X-Vault-Token": tokens["node-1"]},
                         json={"ciphertext": reply["data"]["ciphertext"]}, timeout=10)
    assert decrypt.status_code == 200 and decrypt.json()["data"]["plaintext"] == reply["data"]["plaintext"]
    assert httpx.get(f"{openbao['addr']}/v1/transit/keys/mpc-node-1", headers={"X-Vault-Token": tokens["node-1"]},
                     timeout=10).status_code == 200
    for forbidden in ("transit/keys/mpc-node-1/config", "sys/policies/acl", "transit/export/encryption-key/mpc-node-1"):
        assert httpx.get(f"{openbao['addr']}/v1/{forbidden}", headers={"X-Vault-Token": tokens["node-1"]},
                         timeout=10).status_code == 403, forbidden

    # idempotent: a second run keeps keys and tokens
    second = _bootstrap(openbao)
    assert "initialising" not in second.stdout and second.stdout.count("keeps its token") == len(NODES)
    for node in NODES:
        assert (openbao["work"] / "credentials" / node / "vault-token").read_text().strip() == tokens[node]

    # a restarted (sealed) server is unsealed by the next run, and the tokens still work
    openbao["server"].stop()
    openbao["server"].start(openbao["port"])
    sealed = httpx.get(f"{openbao['addr']}/v1/sys/seal-status", timeout=10).json()
    assert sealed["sealed"] is True
    assert "unsealing" in _bootstrap(openbao).stdout
    assert _datakey(openbao["addr"], tokens["node-2"], "mpc-node-2") == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _service_account_jwt(private_key, pod: str, audience: str = "vault") -> str:
    """A token shaped like a Kubernetes projected service-account token (RS256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(time.time())
    claims = {
        "aud": [audience], "exp": now + 600, "iat": now, "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:mpc:mpc-participant",
        "kubernetes.io": {"namespace": "mpc", "pod": {"name": pod, "uid": f"uid-{pod}"},
                          "serviceaccount": {"name": "mpc-participant", "uid": "uid-sa"}},
    }
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = private_key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64(signature)}"


def _login(openbao: dict, jwt_file: Path) -> subprocess.CompletedProcess:
    env = {**openbao["env"], "VAULT_ADDR": openbao["addr"], "VAULT_AUTH_ROLE": "mpc-participant",
           "VAULT_JWT_PATH": str(jwt_file), "VAULT_LOGIN_TIMEOUT": "5"}
    return subprocess.run([sys.executable, str(DEPLOY / "vault_login.py")], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_kubernetes_vault_setup_limits_each_pod_to_its_own_key(openbao, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not (openbao["work"] / "init" / "init.json").exists():
        _bootstrap(openbao)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    env = {**openbao["env"], "VAULT_CLI": "bao", "BAO_TOKEN": _root_token(openbao),
           "JWT_VALIDATION_PUBKEYS_FILE": str(pem), "REPLICAS": "3"}
    for _ in range(2):  # idempotent
        setup = subprocess.run(["/bin/sh", str(DEPLOY / "vault" / "k8s-setup.sh")], env=env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert setup.returncode == 0, setup.stdout + setup.stderr

    tokens = {}
    for pod in ("node-1", "node-2"):
        jwt_file = tmp_path / f"{pod}.jwt"
        jwt_file.write_text(_service_account_jwt(key, pod))
        login = _login(openbao, jwt_file)
        assert login.returncode == 0, login.stderr
        tokens[pod] = login.stdout.strip()
    # node-1 logs in first, node-2 after: node-1's token must still reach mpc-node-1 only
    assert _datakey(openbao["addr"], tokens["node-1"], "mpc-node-1") == 200
    assert _datakey(openbao["addr"], tokens["node-1"], "mpc-node-2") == 403
    assert _datakey(openbao["addr"], tokens["node-2"], "mpc-node-2") == 200
    assert _datakey(openbao["addr"], tokens["node-2"], "mpc-node-1") == 403
    assert _datakey(openbao["addr"], tokens["node-2"], "mpc-node-3") == 403

    # each pod's API token lives in Vault KV; a pod reads its own and no other (issue 9 part 6)
    root = {"X-Vault-Token": _root_token(openbao)}
    for pod in ("node-1", "node-2"):
        written = httpx.post(f"{openbao['addr']}/v1/mpc-kv/data/node-token/{pod}", headers=root,
                             json={"data": {"token": f"api-token-of-{pod}"}}, timeout=10)
        assert written.status_code == 200, written.text

    def read_api_token(pod: str, path_of: str) -> subprocess.CompletedProcess:
        env = {**openbao["env"], "VAULT_ADDR": openbao["addr"], "VAULT_TOKEN": tokens[pod],
               "API_TOKEN_VAULT_PATH": f"mpc-kv/data/node-token/{path_of}"}
        return subprocess.run([sys.executable, str(DEPLOY / "vault_login.py"), "--api-token"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    own = read_api_token("node-1", "node-1")
    assert own.returncode == 0 and own.stdout == "api-token-of-node-1", own.stderr
    other = read_api_token("node-1", "node-2")
    assert other.returncode != 0 and "HTTP 403" in other.stderr and "api-token-of" not in other.stdout
    assert read_api_token("node-2", "node-2").stdout == "api-token-of-node-2"

    # a token for another audience, or from another service account, is refused
    wrong = tmp_path / "wrong.jwt"
    wrong.write_text(_service_account_jwt(key, "node-3", audience="kubernetes"))
    refused = _login(openbao, wrong)
    assert refused.returncode != 0 and "refused the login" in refused.stderr


def test_temporal_setup_registers_the_search_attributes(tmp_path) -> None:
    temporal = _need("temporal")
    port = free_port()
    server = Server([temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
                     "--http-port", str(free_port()), "--metrics-port", str(free_port()), "--log-level", "warn"],
                    tmp_path / "temporal.log")
    try:
        server.start(port)
        env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "TEMPORAL_NAMESPACE": "default"}
        for run in range(2):  # idempotent
            result = subprocess.run(["/bin/sh", str(DEPLOY / "temporal" / "setup.sh")], env=env,
                                    capture_output=True, text=True, timeout=240, check=False)
            assert result.returncode == 0, result.stdout + result.stderr
            word = "created" if run == 0 else "exists"
            assert result.stdout.count(f" {word}") == len(SEARCH_ATTRIBUTES), result.stdout
        listed = subprocess.run([temporal, "operator", "search-attribute", "list", "--address", f"127.0.0.1:{port}",
                                 "-o", "json"], capture_output=True, text=True, timeout=60, check=True).stdout
        for name in SEARCH_ATTRIBUTES:
            assert name in listed
    finally:
        server.stop()


def test_sh_is_available() -> None:
    assert shutil.which("sh")


def test_compose_bootstrap_lets_only_the_api_sign_intents(openbao) -> None:
    _bootstrap(openbao)
    addr = openbao["addr"]
    api = (openbao["work"] / "credentials" / "api" / "vault-token").read_text().strip()
    node = (openbao["work"] / "credentials" / NODES[0] / "vault-token").read_text().strip()
    message = {"input": base64.b64encode(b"an intent").decode()}
    signed = httpx.post(f"{addr}/v1/transit/sign/mpc-api-intent", headers={"X-Vault-Token": api}, json=message,
                        timeout=10)
    assert signed.status_code == 200 and signed.json()["data"]["signature"].startswith("vault:v1:")
    assert httpx.post(f"{addr}/v1/transit/sign/mpc-api-intent", headers={"X-Vault-Token": node}, json=message,
                      timeout=10).status_code == 403  # a participant can never make an intent
    read = httpx.get(f"{addr}/v1/transit/keys/mpc-api-intent", headers={"X-Vault-Token": node}, timeout=10)
    assert read.status_code == 200 and read.json()["data"]["type"] == "ed25519"  # but may verify one
    assert _datakey(addr, api, f"mpc-{NODES[0]}") == 403  # and the API cannot touch a node's share key
