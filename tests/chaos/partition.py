"""The partition scenario, run inside the hub namespace (`ip netns exec <hub> python -m tests.chaos.partition`).

The hub runs PostgreSQL and Redis (127.0.0.1, hub only), OpenBao, Temporal and the API on the hub's bridge
address, and the coordinator worker; each participant runs in its own namespace (`ip netns exec`) and
reaches the hub over its veth link only (tests/chaos/netns.py). Then:

1. a FROST Ed25519 and a GG20 key, 2-of-3 over node-1..3, and a signature with each;
2. FROST: node-2 is cut off, then a signature is asked with the default signers (node-1, node-2; node-3
   the alternate), while the API still counts node-2 online;
3. GG20: a signature runs (signers node-1, node-2), and node-2 is cut off when the session reaches its
   third round;
4. each of those sessions must fail naming node-2 (`node_timeout`) within the round timeout budget, or
   complete with another signer subset (without node-2);
5. the link is healed; node-2 is online again; later sessions with every signer pair succeed;
6. no R (FROST) or r (GG20) appears twice among all signatures of either key.

Results go to a JSON file the pytest test (tests/chaos/test_partition.py) asserts on. Every process is
stopped by pid at the end, also on failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import httpx

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.devstack.postgres import PostgresServer
from mpc.devstack.process import ManagedProcess
from mpc.devstack.redis import RedisServer
from mpc.devstack.temporal import TemporalDevServer
from tests.chaos.checks import r_value, verifies
from tests.chaos.netns import HUB_ADDRESS, Lab
from tests.services import TEST_PAYLOAD_CODEC_KEY, make_token
from tests.stack import seed_preparams

NODES = ["node-1", "node-2", "node-3"]
CUT = "node-2"
ROUND_TIMEOUT = 10.0  # GG20 keygen rounds get twice this: enough for 2048-bit proofs on a busy machine
ROUND_RETRIES = 2
SETTINGS = {"ROUND_TIMEOUT": f"{ROUND_TIMEOUT:g}s", "ROUND_RETRIES": str(ROUND_RETRIES), "SESSION_TIMEOUT": "120s",
            "HEARTBEAT_INTERVAL": "0.5", "NODE_OFFLINE_AFTER": "3s", "NONCE_POOL_TARGET": "3",
            # The GG20 session is cut at its third round: the presign-then-sign path has nine; a signature from
            # the presignature pool is one round, over before a cut could land in it.
            "PRESIGN_POOL_TARGET": "0"}
DETECT_WITHIN = ROUND_TIMEOUT * ROUND_RETRIES * 2 + 20
"""How soon after the cut a session must end: the cut node's round times out (ROUND_TIMEOUT per attempt,
ROUND_RETRIES attempts), the node is named or replaced; GG20 then runs the whole protocol again with the
alternate. Generous for a loaded 2-core machine; the test reports the measured figure."""


class Hub:
    def __init__(self, lab: Lab, work: Path) -> None:
        self.lab, self.work = lab, work
        self.processes: list[ManagedProcess] = []
        self.services: list[Any] = []
        self.nodes: dict[str, ManagedProcess] = {}

    def start(self) -> None:
        postgres = PostgresServer(self.work / "postgres", free_port())
        redis = RedisServer(self.work / "redis", free_port())
        vault = OpenBaoServer(self.work / "openbao", free_port(HUB_ADDRESS), persistent=False, host=HUB_ADDRESS)
        # Temporal's own services dial each other on 127.0.0.1: it listens on every address of the hub (only
        # the hub's: a namespace of its own), and clients use the bridge address.
        temporal = TemporalDevServer(self.work / "temporal", free_port(HUB_ADDRESS), host="0.0.0.0")
        for service in (postgres, redis, vault, temporal):
            self.services.append(service)
            service.start()
        from mpc.db import migrate

        migrate.upgrade(postgres.dsn())
        self.dsn = postgres.dsn()
        self.token = make_token(self.dsn, "admin")
        config = self.work / "empty.yaml"
        config.write_text("")
        self.port = free_port(HUB_ADDRESS)
        self.url = f"http://{HUB_ADDRESS}:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_", "VAULT_", "TEMPORAL_"))}
        self.env.update({
            "MPC_CONFIG": str(config), "ENVIRONMENT": "test", "LOG_LEVEL": "INFO", "DB_HOST": "127.0.0.1",
            "DB_PORT": str(postgres.port), "DB_NAME": "mpc", "DB_USER": "postgres", "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis.port), "TEMPORAL_ADDRESS": f"{HUB_ADDRESS}:{temporal.port}",
            "VAULT_ADDR": vault.address,
            "VAULT_TOKEN": vault.token, "PAYLOAD_CODEC_KEY": TEST_PAYLOAD_CODEC_KEY, "LISTEN_ADDRESS": HUB_ADDRESS,
            "HTTP_PORT": str(self.port), "GRPC_PORT": str(free_port(HUB_ADDRESS)), "COORDINATOR_ENDPOINT": self.url,
            "BACKUP_DIR": str(self.work / "backups"), "BACKUP_SCHEDULE": "", **SETTINGS,
        })
        api = self._spawn("api", ["api"], self.env)
        api.wait_until(lambda: httpx.get(f"{self.url}/health", timeout=1).status_code == 200, 120)
        self._spawn("coordinator", ["worker", "coordinator"], {**self.env, "METRICS_PORT": str(free_port())})
        seed_preparams(self.work / "nodes", NODES)
        for node in NODES:
            vault.ensure_transit_key(f"mpc-{node}")
            env = {**self.env, "NODE_TYPE": "participant", "NODE_ID": node, "LISTEN_ADDRESS": "127.0.0.1",
                   "METRICS_PORT": "18080", "API_TOKEN": make_token(self.dsn, "node", name=node, node_id=node),
                   "KEY_SHARE_STORAGE_PATH": str(self.work / "nodes" / node), "VAULT_TRANSIT_KEY": f"mpc-{node}"}
            self.nodes[node] = self._spawn(node, ["worker", "participant"], env, netns=self.lab.ns(node))
        self._admit()
        self.wait_online(NODES, 120)

    def _spawn(self, name: str, args: list[str], env: dict[str, str], netns: str | None = None) -> ManagedProcess:
        prefix = ["ip", "netns", "exec", netns] if netns else []  # `ip netns exec` execs: the pid is the worker's
        process = ManagedProcess(name, [*prefix, sys.executable, "-m", "mpc", *args],
                                 log_path=self.work / "logs" / f"{name}.log", env=env)
        process.start()
        self.processes.append(process)
        return process

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=300)

    def _admit(self) -> None:
        deadline, waiting = time.monotonic() + 120, set(NODES)
        with self.http() as http:
            while waiting and time.monotonic() < deadline:
                for node in sorted(waiting):
                    if http.post(f"/v1/nodes/{node}/approve").status_code == 200:
                        waiting.discard(node)
                time.sleep(0.3)
        if waiting:
            raise TimeoutError(f"never registered: {sorted(waiting)}")

    def wait_online(self, nodes: list[str], timeout: float, *, after: float | None = None) -> None:
        """Until every node is online (with `after`: by a heartbeat newer than that wall-clock time)."""
        deadline = time.monotonic() + timeout
        with self.http() as http:
            while time.monotonic() < deadline:
                listed = http.get("/v1/nodes").json()["nodes"]
                online = {n["node_id"] for n in listed if n["status"] == "online" and
                          (after is None or n["seconds_since_heartbeat"] < time.time() - after)}
                if set(nodes) <= online:
                    return
                time.sleep(0.3)
        raise TimeoutError(f"not online: {sorted(set(nodes) - online)}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=10)
        for service in reversed(self.services):
            service.stop()


def _keygen(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    reply = http.post("/v1/keys?wait=true", json={**body, "threshold": 2, "nodes": NODES})
    session = reply.json()
    if reply.status_code != 200 or session["status"] != "completed":
        raise RuntimeError(f"keygen {body}: {reply.status_code} {session}")
    return dict(session["key"])


def _sign(http: httpx.Client, key_id: str, text: str, **extra: Any) -> dict[str, Any]:
    digest = hashlib.sha256(text.encode()).hexdigest()
    reply = http.post(f"/v1/keys/{key_id}/sign?wait=true", json={"digest": digest, **extra})
    if reply.status_code != 200:
        raise RuntimeError(f"sign: {reply.status_code} {reply.text}")
    return dict(reply.json())


def _wait_end(http: httpx.Client, session_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = http.get(f"/v1/sessions/{session_id}").json()
        if session["status"] in ("completed", "failed"):
            return dict(session)
        time.sleep(0.1)
    return dict(http.get(f"/v1/sessions/{session_id}").json())


def _outcome(session: dict[str, Any], cut_at: float, ended_at: float) -> dict[str, Any]:
    return {"session_id": session["session_id"], "status": session["status"], "error": session.get("error"),
            "participants": session.get("participants"), "seconds_after_cut": round(ended_at - cut_at, 2)}


def scenario(hub: Hub, lab: Lab) -> dict[str, Any]:
    result: dict[str, Any] = {"detect_within": DETECT_WITHIN, "cut": CUT}
    with hub.http() as http:
        keys = {"frost": _keygen(http, {"protocol": "frost", "chain_type": "ed25519", "curve": "ed25519",
                                        "allow_raw_digest": True}),
                "gg20": _keygen(http, {"protocol": "gg20", "chain_type": "ethereum", "allow_raw_digest": True})}
        for key in keys.values():
            first = _sign(http, key["key_id"], f"before the cut {key['key_id']}")
            assert first["status"] == "completed", first

        # FROST: cut, then sign at once with the default signers (node-1, node-2) while node-2 still looks online.
        digest = hashlib.sha256(b"frost during the cut").hexdigest()
        lab.cut(CUT)
        cut_at = time.monotonic()
        started = http.post(f"/v1/keys/{keys['frost']['key_id']}/sign", json={"digest": digest})
        frost = _wait_end(http, started.json()["session_id"], 180) if started.status_code == 202 else {
            "session_id": None, "status": f"refused {started.status_code}", "error": started.json()}
        result["frost"] = _outcome(frost, cut_at, time.monotonic()) if frost.get("session_id") else frost
        lab.heal(CUT)
        hub.wait_online([CUT], 120, after=time.time())

        # GG20: cut in the middle of the session (at its third round).
        digest = hashlib.sha256(b"gg20 during the cut").hexdigest()
        started = http.post(f"/v1/keys/{keys['gg20']['key_id']}/sign", json={"digest": digest})
        assert started.status_code == 202, started.text
        session_id = started.json()["session_id"]
        deadline = time.monotonic() + 120
        while http.get(f"/v1/sessions/{session_id}").json()["current_round"] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        round_at_cut = http.get(f"/v1/sessions/{session_id}").json()
        lab.cut(CUT)
        cut_at = time.monotonic()
        gg20 = _wait_end(http, session_id, 240)
        result["gg20"] = {**_outcome(gg20, cut_at, time.monotonic()), "round_at_cut": round_at_cut["current_round"],
                          "status_at_cut": round_at_cut["status"]}
        time.sleep(2)  # partitioned for a while after the session, then healed
        lab.heal(CUT)
        healed = time.time()
        hub.wait_online([CUT], 120, after=healed)

        later = []
        for name, key in keys.items():
            for pair in (["node-1", "node-2"], ["node-2", "node-3"], ["node-1", "node-3"]):
                session = _sign(http, key["key_id"], f"after the heal {name} {pair}", signers=pair)
                later.append({"key": name, "signers": pair, "status": session["status"], "error": session["error"],
                              "verified": session["status"] == "completed" and verifies(
                                  key, session["message_hash"], session["signature"])})
        result["later"] = later

        reuse, signatures = [], 0
        for name, key in keys.items():
            seen: dict[bytes, str] = {}
            rows = http.get("/v1/sessions", params={"key_id": key["key_id"], "limit": 500}).json()["sessions"]
            for row in rows:
                if row["operation"] != "sign" or row["status"] != "completed":
                    continue
                signatures += 1
                r = r_value(key["protocol"], bytes.fromhex(row["signature"]))
                if r in seen:
                    reuse.append(f"{name}: {seen[r]} and {row['session_id']}")
                seen[r] = row["session_id"]
                if not verifies(key, row["message_hash"], row["signature"]):
                    reuse.append(f"{name}: {row['session_id']} does not verify")
        result["reuse"], result["signatures"] = reuse, signatures
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True, help="the namespaces' prefix (tests/chaos/netns.py Lab)")
    parser.add_argument("--work", required=True, help="data and logs")
    parser.add_argument("--out", required=True, help="JSON result file")
    args = parser.parse_args()
    lab = Lab(prefix=args.prefix)
    hub = Hub(lab, Path(args.work))
    result: dict[str, Any]
    try:
        hub.start()
        result = scenario(hub, lab)
    except Exception:
        result = {"error": traceback.format_exc()}
    finally:
        hub.stop()
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
