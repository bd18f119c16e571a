"""`mpc dev` as a user runs it: a subprocess that comes up, survives a restart with its data dir,
and on SIGINT stops every process it started."""

from __future__ import annotations

import hashlib
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from mpc.devstack.ports import free_port
from mpc.verify import verify_signature
from tests.prometheus_tools import ensure_prometheus


def _ports() -> dict[str, int]:
    return {name: free_port() for name in ("http", "grpc", "temporal", "ui", "vault", "db", "redis")}


def _start(data_dir: Path, ports: dict[str, int], log: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "mpc", "dev", "--data-dir", str(data_dir), "--http-port", str(ports["http"]),
            "--grpc-port", str(ports["grpc"]), "--temporal-port", str(ports["temporal"]), "--ui-port", str(ports["ui"]),
            "--vault-port", str(ports["vault"]), "--db-port", str(ports["db"]), "--redis-port", str(ports["redis"]),
            *extra]
    return subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "mpc dev is ready" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"mpc dev exited early:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"mpc dev not ready:\n{log.read_text()[-3000:]}")


def _stop_and_check_no_children(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT, as Ctrl-C would; always stops everything, then asserts nothing was left behind."""
    descendants = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
    time.sleep(1)
    alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for leftover in alive:  # never leak processes into later tests, even when failing
        leftover.kill()
    assert len(descendants) >= 8, descendants  # postgres, redis, openbao, temporal, api, coordinator, 3 nodes
    assert not alive, f"left running: {[(p.pid, p.name()) for p in alive]}"


@pytest.fixture
def dev_dir(tmp_path: Path) -> Path:
    return tmp_path / "dev"


def test_dev_stack_starts_restarts_and_stops_cleanly(dev_dir: Path, tmp_path: Path) -> None:
    ports = _ports()
    log = tmp_path / "dev.log"
    proc = _start(dev_dir, ports, log)
    try:
        _wait_ready(proc, log)
        api = f"http://127.0.0.1:{ports['http']}"
        token = (dev_dir / "admin-token").read_text().strip()
        assert (dev_dir / "admin-token").stat().st_mode & 0o777 == 0o600
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{api}/ready", timeout=10).status_code == 200
        created = httpx.post(f"{api}/v1/keys?wait=true", headers=headers, timeout=120,
                             json={"chain_type": "ed25519", "protocol": "frost", "threshold": 2, "total_nodes": 3})
        assert created.status_code == 200 and created.json()["status"] == "completed", created.text
        key = created.json()["key"]
    finally:
        if proc.poll() is None:
            _stop_and_check_no_children(proc)

    log = tmp_path / "dev-restart.log"
    proc = _start(dev_dir, ports, log)  # same data dir: keys, nodes and shares are found again
    try:
        _wait_ready(proc, log)
        assert (dev_dir / "admin-token").read_text().strip() == token
        again = httpx.get(f"{api}/v1/keys/{key['key_id']}", headers=headers, timeout=10)
        assert again.status_code == 200 and again.json()["public_key"] == key["public_key"]
        nodes = httpx.get(f"{api}/v1/nodes", headers=headers, timeout=10).json()
        assert {n["node_id"] for n in nodes["nodes"]} >= {"node-1", "node-2", "node-3"}
        digest = hashlib.sha256(b"after restart").hexdigest()
        signed = httpx.post(f"{api}/v1/keys/{key['key_id']}/sign?wait=true", headers=headers, timeout=120,
                            json={"digest": digest})
        assert signed.json()["status"] == "completed", signed.text
        assert verify_signature("ed25519", bytes.fromhex(key["public_key"]), bytes.fromhex(digest),
                                bytes.fromhex(signed.json()["signature"]))
    finally:
        if proc.poll() is None:
            _stop_and_check_no_children(proc)


def test_port_in_use_is_named(dev_dir: Path, tmp_path: Path) -> None:
    ports = _ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["redis"]))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "-m", "mpc", "dev", "--data-dir", str(dev_dir), "--http-port", str(ports["http"]),
             "--grpc-port", str(ports["grpc"]), "--temporal-port", str(ports["temporal"]), "--ui-port",
             str(ports["ui"]), "--vault-port", str(ports["vault"]), "--db-port", str(ports["db"]),
             "--redis-port", str(ports["redis"])],
            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert f"Redis (--redis-port) port {ports['redis']}" in result.stderr


def test_dev_stack_with_prometheus_scrapes_every_process(dev_dir: Path, tmp_path: Path) -> None:
    """`mpc dev --prometheus`: Prometheus beside the stack, its URL printed, every process scraped (the
    participants at the metrics URL they registered), and stopped with the rest."""
    ensure_prometheus()
    ports = _ports()
    prometheus_port = free_port()
    log = tmp_path / "dev-prometheus.log"
    proc = _start(dev_dir, ports, log, "--prometheus", "--prometheus-port", str(prometheus_port))
    try:
        _wait_ready(proc, log)
        url = f"http://127.0.0.1:{prometheus_port}"
        assert f"Prometheus    {url}" in log.read_text()
        token = (dev_dir / "admin-token").read_text().strip()
        nodes = httpx.get(f"http://127.0.0.1:{ports['http']}/v1/nodes", headers={"Authorization": f"Bearer {token}"},
                          timeout=10).json()["nodes"]
        registered = {n["node_id"]: n["metrics_url"] for n in nodes}
        assert set(registered) == {"node-1", "node-2", "node-3"} and all(registered.values())
        deadline = time.monotonic() + 60
        while True:
            targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
            up = {(t["labels"]["job"], t["labels"]["node"]) for t in targets if t["health"] == "up"}
            if len(up) == 5 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert up == {("mpc-coordinator", "api"), ("mpc-coordinator", "coordinator-1"),
                      *(("mpc-participants", node) for node in registered)}
        scraped = {t["labels"]["node"]: t["scrapeUrl"] for t in targets if t["labels"]["job"] == "mpc-participants"}
        assert scraped == registered
    finally:
        if proc.poll() is None:
            _stop_and_check_no_children(proc)


def test_dev_stack_tls_serves_https_and_grpc_with_its_development_ca(dev_dir: Path, tmp_path: Path) -> None:
    """`mpc dev --tls`: a development CA in <data-dir>/tls; HTTPS and gRPC with TLS (the participants register over
    HTTPS, trusting the CA); a keygen and a signature through the gRPC API, the signature verified independently."""
    import grpc

    from api.rpc.v1 import signer_pb2 as pb
    from api.rpc.v1 import signer_pb2_grpc as rpc
    from tests.integration.helpers import check_signature

    ports = _ports()
    log = tmp_path / "dev-tls.log"
    proc = _start(dev_dir, ports, log, "--tls")
    try:
        _wait_ready(proc, log)
        ca = dev_dir / "tls" / "ca.pem"
        assert (dev_dir / "tls" / "ca-key.pem").stat().st_mode & 0o777 == 0o600
        summary = log.read_text()
        assert f"https://127.0.0.1:{ports['http']}" in summary and f"TLS, CA {ca}" in summary
        assert httpx.get(f"https://127.0.0.1:{ports['http']}/ready", verify=ssl.create_default_context(cafile=str(ca)),
                         timeout=10).status_code == 200
        with pytest.raises(httpx.TransportError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{ports['http']}/health", timeout=10)

        token = (dev_dir / "admin-token").read_text().strip()
        metadata = (("authorization", f"Bearer {token}"),)
        target = f"127.0.0.1:{ports['grpc']}"
        with grpc.insecure_channel(target) as plain, pytest.raises(grpc.RpcError) as refused:
            rpc.NodesStub(plain).ListNodes(pb.ListNodesRequest(), metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with grpc.secure_channel(target, grpc.ssl_channel_credentials(ca.read_bytes())) as channel:
            nodes = rpc.NodesStub(channel).ListNodes(pb.ListNodesRequest(), metadata=metadata, timeout=10)
            assert {n.node_id for n in nodes.nodes if n.status == "online"} == {"node-1", "node-2", "node-3"}
            keys = rpc.KeysStub(channel)
            created = keys.CreateKey(pb.CreateKeyRequest(protocol="frost", chain_type="bitcoin", threshold=2,
                                                         allow_raw_digest=True, total_nodes=3, wait=True),
                                     metadata=metadata, timeout=120)
            assert created.session.status == "completed", created.session.error
            digest = hashlib.sha256(b"signed over gRPC with TLS").hexdigest()
            signed = keys.Sign(pb.SignRequest(key_id=created.key.key_id, digest=digest, wait=True),
                               metadata=metadata, timeout=120)
            assert signed.status == "completed", signed.error
        from google.protobuf import json_format

        check_signature(json_format.MessageToDict(created.key, preserving_proto_field_name=True), digest,
                        signed.signature)  # BIP-340 under the Taproot output key, and the P2TR address
    finally:
        if proc.poll() is None:
            _stop_and_check_no_children(proc)
