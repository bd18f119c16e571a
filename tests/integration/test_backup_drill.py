"""Restore drill, escrow check, bad input and the Schedule, on a stack of their own.

The drill wipes PostgreSQL, Redis and a node's disk, so it runs on its own database (`mpc_drill`), Redis,
Temporal server, API, coordinator and participants d1..d3 (the session's PostgreSQL and OpenBao servers are
shared; nothing of the session stack is touched). Every process is stopped by pid afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis as redis_client
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from activities.ecdsa_node import PRESIG_ONCE
from activities.frost_signing import NONCES
from activities.recover_staging import STAGED
from mpc.backup.escrow import public_hex_of
from mpc.backup.manifest import MANIFEST_FILE, SIGNATURE_FILE, verify_set
from mpc.db import migrate
from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.devstack.postgres import PostgresServer, pg_bin_dir
from mpc.devstack.process import ManagedProcess
from mpc.devstack.redis import RedisServer
from mpc.devstack.temporal import TemporalDevServer
from mpc.keystore import NonceReuseError, SecretStateStore, StaleEpochError, VaultTransitWrapper
from tests.integration.helpers import check_signature, create_key, sign, wait_session
from tests.integration.test_ecdsa_e2e import check_ecdsa_signature
from tests.services import make_token, start_api
from tests.stack import Stack, seed_preparams
from tss.ecdsa.curve import Q as ORDER
from tss.ecdsa.staging import deal_staged

NODES = ["d1", "d2", "d3"]
REPO = Path(__file__).resolve().parents[2]
DB = "mpc_drill"


@dataclass
class Drill:
    stack: Stack
    base: Path
    recovery_key: Path
    postgres: PostgresServer
    redis: RedisServer
    temporal: TemporalDevServer
    openbao: OpenBaoServer

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**self.stack.env, "MPC_API_URL": self.stack.api_url, "MPC_API_TOKEN": self.stack.admin_token}
        return subprocess.run([sys.executable, "-m", "mpc", *args], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def psql(self, sql: str) -> str:
        result = subprocess.run([str(pg_bin_dir() / "psql"), "-h", self.postgres.host, "-p", str(self.postgres.port),
                                 "-U", "postgres", "-d", DB, "-tAc", sql], capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def node_state(self, node: str) -> SecretStateStore:
        wrapper = VaultTransitWrapper(self.openbao.address, self.openbao.token, f"mpc-{node}")
        return SecretStateStore(self.stack.data_dir / node / "state", wrapper, node)


@pytest.fixture(scope="module")
def drill(stack_env: dict[str, str], postgres_server: PostgresServer, openbao_server: OpenBaoServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    base = tmp_path_factory.mktemp("drill")
    temporal = TemporalDevServer(base / "temporal", free_port(), db_file=base / "temporal.db")
    redis = RedisServer(base / "redis", free_port())
    recovery = X25519PrivateKey.generate()
    recovery_key = base / "recovery.key"
    recovery_key.write_text(recovery.private_bytes_raw().hex() + "\n")
    processes: list[ManagedProcess] = []
    stack: Stack | None = None
    try:
        temporal.start()
        redis.start()
        postgres_server._create_database(DB)
        migrate.upgrade(postgres_server.dsn(DB))
        env = {**stack_env, "DB_NAME": DB, "REDIS_PORT": str(redis.port), "TEMPORAL_ADDRESS": temporal.address,
               "BACKUP_DIR": str(base / "backups"), "BACKUP_RECOVERY_PUBLIC_KEY": public_hex_of(recovery),
               "ROUND_TIMEOUT": "60s", "ROUND_RETRIES": "2", "SESSION_TIMEOUT": "180s", "NONCE_POOL_TARGET": "3"}
        admin = make_token(postgres_server.dsn(DB), "admin")
        tokens: dict[str, str] = {}

        def node_token(node: str) -> str:
            if node not in tokens:
                tokens[node] = make_token(postgres_server.dsn(DB), "node", name=f"drill-{node}", node_id=node)
            return tokens[node]

        api, url = start_api(env, base / "logs", name="api-drill")
        processes.append(api)
        env["COORDINATOR_ENDPOINT"] = url
        placeholder = ManagedProcess("none", ["true"], log_path=base / "logs" / "none.log")
        stack = Stack(url, admin, env, base / "logs", base / "nodes", api, placeholder, node_tokens=node_token)
        stack.start_coordinator()
        # 6 committed pre-parameter sets for each of d1..d5: the new holders d4, d5 of the loss drill need theirs
        # for the GG20 key's recovery (seeded now; each seals its file when it first starts).
        seed_preparams(stack.data_dir, [*NODES, "d4", "d5"])
        for node in NODES:
            openbao_server.ensure_transit_key(f"mpc-{node}")
            stack.start_participant(node)
        stack.admit(NODES)
        stack.wait_online(NODES)
        yield Drill(stack, base, recovery_key, postgres_server, redis, temporal, openbao_server)
    finally:
        if stack is not None:
            stack.stop()
        for process in processes:
            process.stop()
        redis.stop()
        temporal.stop()


def _sign_both(drill: Drill, frost: dict, ecdsa: dict, tag: bytes) -> None:
    with drill.stack.client() as client:
        message = b"drill " + tag
        session = sign(client, frost["key_id"], message, signers=["d1", "d2"])
        check_signature(frost, hashlib.sha256(message).hexdigest(), session["signature"])
        session = sign(client, ecdsa["key_id"], message, signers=["d2", "d3"])
        check_ecdsa_signature(ecdsa, hashlib.sha256(message).digest(), session["signature"])


def test_restore_drill(drill: Drill) -> None:
    """Keygen (FROST, GG20), sign, back up; wipe PostgreSQL, Redis and d2's disk; restore the database and d2
    from its snapshot; the same keys sign again, and what d2 held unused before the backup is refused."""
    with drill.stack.client() as client:
        frost = create_key(client, chain_type="solana", threshold=2, nodes=NODES)
        ecdsa = create_key(client, protocol="gg20", chain_type="ethereum", threshold=2, nodes=NODES)
    _sign_both(drill, frost, ecdsa, b"before")
    # Held unused by d2 before the backup: a pooled FROST nonce (its commitment is in the database) and a
    # GG20 presignature record (sealed in d2's one-time store, as presigning leaves one).
    nonce_id = drill.psql(f"SELECT nonce_id FROM nonce_commitments WHERE node_id = 'd2' AND key_id = "
                          f"'{frost['key_id']}' AND claimed_session_id IS NULL LIMIT 1")
    assert nonce_id
    drill.node_state("d2").put_one_time(PRESIG_ONCE, "drill-presignature", b"\x01" * 64,
                                        public={"key_id": ecdsa["key_id"], "epoch": 0})

    started = time.monotonic()
    run = drill.cli("backup", "run")
    assert run.returncode == 0, run.stderr
    backup_id = next(line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("backup_id"))
    snapshot = drill.base / "d2-snapshot"
    shutil.copytree(drill.stack.data_dir / "d2", snapshot, symlinks=True)  # the node's volume snapshot
    print(f"backup of 2 keys: {time.monotonic() - started:.1f} s")

    verified = drill.cli("backup", "verify", backup_id, "--recovery-key", str(drill.recovery_key))
    assert verified.returncode == 0, verified.stderr
    for key in (frost, ecdsa):
        assert f"escrow of {key['key_id']}: every share decrypts" in verified.stdout
    assert drill.recovery_key.read_text().strip() not in verified.stdout + verified.stderr

    # The disaster: PostgreSQL, Redis and d2's disk are gone.
    drill.stack.participants["d2"].stop()
    drill.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    redis_client.Redis(host="127.0.0.1", port=drill.redis.port).flushall()
    shutil.rmtree(drill.stack.data_dir / "d2")

    started = time.monotonic()
    restored = drill.cli("backup", "restore", backup_id, "--nodes", "d2", "--yes")
    assert restored.returncode == 0, restored.stderr
    shutil.copytree(snapshot, drill.stack.data_dir / "d2", symlinks=True)
    print(f"restore: {time.monotonic() - started:.1f} s")
    token = drill.psql("SELECT token FROM node_nonce_epochs WHERE node_id = 'd2'")
    assert len(token) == 32
    assert drill.psql("SELECT count(*) FROM nonce_commitments WHERE claimed_session_id IS NULL") == "0"

    drill.stack.start_participant("d2")
    drill.stack.wait_online(NODES, fresh=True)
    _sign_both(drill, frost, ecdsa, b"after")

    # d2 applied the new token before serving: its pre-backup nonce and presignature are refused for good.
    state = drill.node_state("d2")
    applied = json.loads((state.root / ".nonce-epoch-applied").read_text())
    assert applied["token"] == token
    for namespace, record in ((NONCES, nonce_id), (PRESIG_ONCE, "drill-presignature")):
        with pytest.raises((NonceReuseError, StaleEpochError)):
            state.consume(namespace, record)
    with drill.stack.client() as client:
        assert client.get(f"/v1/backups/{backup_id}").json()["status"] == "completed"
        audit = client.get("/v1/audit-logs", params={"action": "backup.restore"}).json()["entries"]
        assert audit and audit[0]["resource_id"] == backup_id
    metrics = httpx.get(f"{drill.stack.api_url}/metrics", timeout=10).text
    assert "mpc_backup_last_success_timestamp_seconds" in metrics  # the alert rule's metric
    assert "mpc_backup_last_success_duration_seconds" in metrics


def _latest_set(drill: Drill) -> Path:
    with drill.stack.client() as client:
        backups = client.get("/v1/backups", params={"status": "completed"}).json()["backups"]
    return Path(backups[0]["path"])


def test_tampered_sets_fail_verify_and_restore_naming_the_file(drill: Drill, tmp_path: Path) -> None:
    source = _latest_set(drill)
    marker = f"marker-{os.getpid()}"
    drill.psql(f"INSERT INTO audit_logs (actor, action, resource_type, status, details) VALUES "
               f"('{marker}', 'test.marker', 'test', 'success', '{{}}')")

    def tampered(name: str, change) -> Path:
        copy = tmp_path / name / source.name
        shutil.copytree(source, copy)
        change(copy)
        return copy

    meta = next(p for p in sorted((source / "nodes").rglob("*.meta")))
    rel = meta.relative_to(source).as_posix()

    def flip(copy: Path) -> None:
        path = copy / rel
        data = bytearray(path.read_bytes())
        data[10] ^= 1
        path.write_bytes(bytes(data))

    def edit_manifest(copy: Path) -> None:
        manifest = json.loads((copy / MANIFEST_FILE).read_bytes())
        manifest["keys"][0]["epoch"] += 1
        (copy / MANIFEST_FILE).write_bytes(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())

    for copy, named in ((tampered("file", flip), rel), (tampered("manifest", edit_manifest), MANIFEST_FILE)):
        for command in (("backup", "verify", str(copy)), ("backup", "restore", str(copy), "--yes")):
            result = drill.cli(*command)
            assert result.returncode == 1, (command, result.stdout, result.stderr)
            assert named in result.stderr, result.stderr
    # Nothing changed: the row written after the backup is still there (a restore would have removed it).
    assert drill.psql(f"SELECT count(*) FROM audit_logs WHERE actor = '{marker}'") == "1"

    wrong = tmp_path / "wrong.key"
    wrong.write_text(X25519PrivateKey.generate().private_bytes_raw().hex())
    result = drill.cli("backup", "verify", str(source), "--recovery-key", str(wrong))
    assert result.returncode == 1
    assert "escrow/" in result.stderr and "not to the key given" in result.stderr
    assert verify_set(source).manifest.backup_id == source.name


def test_failed_step_fails_the_run_with_its_cause(drill: Drill) -> None:
    """pg_dump cannot run: the run fails naming it, no staging directory stays, the row and audit say why."""
    stack = drill.stack
    stack.coordinator.stop()
    stack.env["BACKUP_PG_BIN_DIR"] = str(drill.base / "no-such-bin")
    try:
        stack.start_coordinator()
        with stack.client() as client:
            started = client.post("/v1/backups").json()
            session = wait_session(client, started["session_id"], timeout=120)
            assert session["status"] == "failed" and session["error"]["code"] == "pg_dump_failed"
            backup = client.get(f"/v1/backups/{started['backup_id']}").json()
            assert backup["status"] == "failed" and "pg_dump" in backup["error"]["message"]
            audit = client.get("/v1/audit-logs", params={"action": "backup.failed"}).json()["entries"]
            assert audit[0]["resource_id"] == started["backup_id"] and audit[0]["status"] == "failure"
            metrics = httpx.get(f"{stack.api_url}/metrics", timeout=10).text
        assert 'mpc_backups{status="failed"} 1.0' in metrics
        backups = Path(stack.env["BACKUP_DIR"])
        assert not list(backups.glob("*.partial")) and not (backups / started["backup_id"]).exists()
    finally:
        stack.coordinator.stop()
        stack.env.pop("BACKUP_PG_BIN_DIR")
        stack.start_coordinator()


async def test_schedule_runs_skips_an_overlap_and_retention_deletes_an_aged_set(drill: Drill) -> None:
    """The coordinator creates the Schedule at start; a one-minute cron runs it, a run while one is in progress
    is skipped (overlap SKIP), and a run deletes the set older than BACKUP_RETENTION_DAYS."""
    from temporalio.client import Client, ScheduleOverlapPolicy

    from workers.backup_schedule import BACKUP_SCHEDULE_ID

    stack = drill.stack
    aged = _latest_set(drill)
    drill.psql(f"UPDATE backups SET created_at = now() - interval '40 days' WHERE backup_id = '{aged.name}'")
    stack.coordinator.stop()
    stack.env["BACKUP_SCHEDULE"] = "* * * * *"
    client = await Client.connect(drill.temporal.address)
    handle = client.get_schedule_handle(BACKUP_SCHEDULE_ID)
    try:
        stack.start_coordinator()
        deadline = time.monotonic() + 60
        while True:
            try:
                described = await handle.describe()
                break
            except Exception:
                assert time.monotonic() < deadline, "the coordinator did not create the schedule"
                await asyncio.sleep(0.5)
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        await handle.trigger()
        deadline = time.monotonic() + 60
        while not (await handle.describe()).info.running_actions:  # the run has started (and takes seconds)
            assert time.monotonic() < deadline, "the triggered run never started"
            await asyncio.sleep(0.1)
        await handle.trigger()  # while the first run is in progress: skipped
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            info = (await handle.describe()).info
            if info.num_actions >= 2 and info.num_actions_skipped_overlap >= 1 and not info.running_actions:
                break
            await asyncio.sleep(1)
        assert info.num_actions_skipped_overlap >= 1, info
        assert info.num_actions >= 2, info  # the trigger's run and at least one run of the cron
        async with httpx.AsyncClient(base_url=stack.api_url, headers=stack.headers) as api:
            row = (await api.get(f"/v1/backups/{aged.name}")).json()
            done = (await api.get("/v1/backups", params={"status": "completed"})).json()["backups"]
        assert row["status"] == "deleted" and not aged.exists()
        assert any(b["requested_by"] == "schedule" for b in done)
    finally:
        stack.coordinator.stop()
        stack.env["BACKUP_SCHEDULE"] = ""
        await handle.delete()
        stack.start_coordinator()



def old_version(base: Path) -> Path:
    """The coordinator's code before BackupWorkflow's patched change: a copy of `workflows/` whose
    `workflow.patched(SEARCH_ATTRIBUTES_PATCH)` is False, which is what the earlier version ran (its history,
    tests/workflows/histories/backup-v1-*, replays against today's code). A process started in `base` imports
    it ahead of the installed package."""
    shutil.copytree(REPO / "workflows", base / "workflows", ignore=shutil.ignore_patterns("__pycache__"))
    module = base / "workflows" / "backup.py"
    source = module.read_text()
    assert source.count("workflow.patched(SEARCH_ATTRIBUTES_PATCH)") == 1
    module.write_text(source.replace("workflow.patched(SEARCH_ATTRIBUTES_PATCH)", "False"))
    return base


async def test_upgrade_with_running_workflows(drill: Drill, tmp_path: Path) -> None:
    """The guide's upgrade with workflows in flight (issue 11 part 5): keygen, sign and backup runs start on the
    old version and stop in the middle (their nodes are down, then the coordinator stops); the new version, whose
    BackupWorkflow changed behind `workflow.patched`, starts and every run completes. The runs the old version
    began finish as they began (no search attributes); a run of the new version carries them."""
    from temporalio.client import Client

    from workflows.search import OPERATION, STATUS

    stack = drill.stack
    with stack.client() as client:
        key = create_key(client, chain_type="solana", threshold=2, nodes=NODES)
    stack.coordinator.stop()  # (ROUND_TIMEOUT is 60 s here: the nodes are down for a while, no round times out)
    stack.coordinator = ManagedProcess(
        "coordinator-old", [sys.executable, "-m", "mpc", "worker", "coordinator"],
        log_path=stack.log_dir / "coordinator-old.log", cwd=old_version(tmp_path / "old"),
        env={**stack.env, "METRICS_PORT": str(stack.metrics_port("coordinator"))})
    stack.coordinator.start()
    try:
        stack.wait_online(NODES, fresh=True)
        for node in NODES:  # at once (kill -9): the API must still count them online when the runs start
            stack.participants[node].stop(sig=signal.SIGKILL)
        message = b"signed across an upgrade"
        with stack.client() as client:  # the nodes still count as online for NODE_OFFLINE_AFTER
            keygen = client.post("/v1/keys", json={"protocol": "frost", "chain_type": "solana", "threshold": 2,
                                                   "nodes": NODES})
            signing = client.post(f"/v1/keys/{key['key_id']}/sign", json={
                "digest": hashlib.sha256(message).hexdigest(), "signers": ["d1", "d2"]})
            backup = client.post("/v1/backups")
            assert [r.status_code for r in (keygen, signing, backup)] == [202, 202, 202], keygen.text + signing.text
            sessions = [keygen.json()["session_id"], signing.json()["session_id"], backup.json()["session_id"]]
            deadline = time.monotonic() + 90
            while True:  # the old version ran their first steps; each now waits for a node
                states = [client.get(f"/v1/sessions/{s}").json() for s in sessions]
                if all(s["status"] == "running" for s in states) and states[2]["current_round"] >= 1:
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.5)
        stack.coordinator.stop()  # the upgrade: stop, (migrate), start the new version
        stack.start_coordinator()
        for node in NODES:
            stack.start_participant(node)
        with stack.client() as client:
            done = [wait_session(client, s, timeout=240) for s in sessions]
            assert [s["status"] for s in done] == ["completed"] * 3, [s["error"] for s in done]
            check_signature(key, hashlib.sha256(message).hexdigest(), done[1]["signature"])
            new_key = client.get(f"/v1/keys/{keygen.json()['key']['key_id']}").json()
            assert new_key["status"] == "active" and new_key["participants"] == NODES
            assert client.get(f"/v1/backups/{backup.json()['backup_id']}").json()["status"] == "completed"
        temporal = await Client.connect(drill.temporal.address)
        old_run = await temporal.get_workflow_handle(done[2]["workflow_id"]).describe()
        assert old_run.typed_search_attributes.get(OPERATION) is None  # begun by the old version: as it began
        run = drill.cli("backup", "run")
        assert run.returncode == 0, run.stderr
        new_id = next(line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("session_id"))
        with stack.client() as client:
            workflow_id = client.get(f"/v1/sessions/{new_id}").json()["workflow_id"]
        new_run = await temporal.get_workflow_handle(workflow_id).describe()
        assert new_run.typed_search_attributes.get(OPERATION) == "backup"
        assert new_run.typed_search_attributes.get(STATUS) == "completed"
    finally:
        if stack.coordinator.name == "coordinator-old" or not stack.coordinator.running():
            stack.coordinator.stop()
            stack.start_coordinator()
        for node in NODES:
            if not stack.participants[node].running():
                stack.start_participant(node)


def test_loss_drill_recovers_from_escrow_into_new_nodes(drill: Drill, tmp_path: Path) -> None:
    """Keys of d1..d3 (Ed25519 for Solana, Taproot for Bitcoin, GG20 for Ethereum) are escrowed; d2 and d3 lose
    their disks (more than n - t); `mpc recover --from-escrow` with the recovery key puts each key in d1, d4 and d5
    (the GG20 key's staged shares reshared into key shares with fresh Paillier parameters), and they sign with the
    same public key and address (independent verifiers: cryptography, BIP-340, coincurve, OpenSSL, eth-account).
    A wrong recovery key is a clear error. Last in this module: d2 and d3 stay lost."""
    stack = drill.stack
    with stack.client() as client:
        keys = [create_key(client, chain_type="solana", threshold=2, nodes=NODES),
                create_key(client, curve="secp256k1-tr", chain_type="bitcoin", threshold=2, nodes=NODES),
                create_key(client, protocol="gg20", chain_type="ethereum", threshold=2, nodes=NODES)]
    run = drill.cli("backup", "run")
    assert run.returncode == 0, run.stderr
    backup_id = next(line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("backup_id"))

    # The disaster: d2 and d3 and their disks are gone; the operator forgets them and brings up d4 and d5.
    for node in ("d2", "d3"):
        stack.participants[node].stop()
        shutil.rmtree(stack.data_dir / node)
        with stack.client() as client:
            assert client.delete(f"/v1/nodes/{node}").status_code == 204
    for node in ("d4", "d5"):
        drill.openbao.ensure_transit_key(f"mpc-{node}")
        stack.start_participant(node)
    stack.admit(["d4", "d5"])
    stack.wait_online(["d1", "d4", "d5"])

    recover = ["recover", "--from-escrow", backup_id, "--nodes", "d1,d4,d5", "--yes",
               *(arg for key in keys for arg in ("--key", key["key_id"]))]
    wrong = tmp_path / "wrong.key"
    wrong.write_text(X25519PrivateKey.generate().private_bytes_raw().hex())
    refused = drill.cli(*recover, "--recovery-key", str(wrong))
    assert refused.returncode == 1 and "not to the key given" in refused.stderr, refused.stderr
    assert f"/escrow/{keys[0]['key_id']}.json" in refused.stderr  # the file it could not open
    with stack.client() as client:
        assert client.get(f"/v1/keys/{keys[0]['key_id']}").json()["epoch"] == 0  # nothing started

    # The API checks a GG20 recovery's staged package itself: one not through the key is refused, nothing starts.
    ecdsa = keys[2]
    root = drill.base / "backups" / backup_id
    _, foreign = deal_staged(secrets.randbelow(ORDER - 1) + 1, 2, [1, 4, 5], epoch=1)
    body = {"backup_id": backup_id, "manifest": base64.b64encode((root / MANIFEST_FILE).read_bytes()).decode(),
            "manifest_signature": (root / SIGNATURE_FILE).read_text(), "threshold": 2,
            "holders": [{"node_id": n, "party_id": p} for n, p in (("d1", 1), ("d4", 4), ("d5", 5))],
            "package": {**foreign.to_dict(), "group_key": ecdsa["public_key"], "group_public_key": ecdsa["public_key"]},
            "shares": {n: base64.b64encode(b"{}").decode() for n in ("d1", "d4", "d5")}}
    with stack.client() as client:
        sessions = client.get("/v1/sessions", params={"key_id": ecdsa["key_id"]}).json()["total"]
        reply = client.post(f"/v1/keys/{ecdsa['key_id']}/recover", json=body)
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_package", reply.text
        assert client.get("/v1/sessions", params={"key_id": ecdsa["key_id"]}).json()["total"] == sessions

    started = time.monotonic()
    recovered = drill.cli(*recover, "--recovery-key", str(drill.recovery_key), timeout=600)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    print(f"recovery of 3 keys (Ed25519, Taproot, GG20): {time.monotonic() - started:.1f} s")
    secret_hex = drill.recovery_key.read_text().strip()
    assert secret_hex not in recovered.stdout + recovered.stderr
    assert "identity fingerprint" in recovered.stderr
    with stack.client() as client:
        for key in keys:
            after = client.get(f"/v1/keys/{key['key_id']}").json()
            assert (after["public_key"], after["address"], after["verifying_key"]) == \
                (key["public_key"], key["address"], key["verifying_key"])
            assert after["participants"] == ["d1", "d4", "d5"] and after["epoch"] == 1, after
            for signers in (["d4", "d5"], ["d1", "d5"]):
                message = f"after the loss {signers}".encode()
                session = sign(client, key["key_id"], message, signers=signers)
                assert session["status"] == "completed", session["error"]
                if key["protocol"] == "gg20":
                    check_ecdsa_signature(after, hashlib.sha256(message).digest(), session["signature"])
                else:
                    check_signature(after, hashlib.sha256(message).hexdigest(), session["signature"])
        audit = client.get("/v1/audit-logs", params={"action": "key.recover"}).json()["entries"]
        assert {e["resource_id"] for e in audit} == {k["key_id"] for k in keys}
    # d1 kept only the new epoch; the new holders hold it active; no staged GG20 share is left anywhere.
    for key in keys:
        assert sorted(p.name for p in (stack.data_dir / "d1" / "keys" / key["key_id"]).glob("epoch-*.meta")) == \
            ["epoch-1.meta"]
    for node in ("d1", "d4", "d5"):
        assert drill.node_state(node).list_sessions(STAGED) == []
