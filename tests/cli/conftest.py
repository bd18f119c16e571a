"""A small stack of its own for the CLI tests: real API, coordinator worker and participants cli-1..cli-3.

It shares the session services (PostgreSQL, Redis, OpenBao, Temporal) with tests/integration but uses its
own participant ids, share directories and logs, so both can run in one pytest session without two
workers polling one participant queue. Package-scoped: stopped when the CLI tests are done.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.process import ManagedProcess
from tests.services import start_api
from tests.stack import Stack

NODES = ["cli-1", "cli-2", "cli-3"]


@pytest.fixture(scope="package")
def stack(stack_env: dict[str, str], services_dir: Path, admin_token: str, node_token: str,
          openbao_server: OpenBaoServer) -> Iterator[Stack]:
    log_dir = services_dir / "logs" / "cli"
    env = {**stack_env, "ROUND_TIMEOUT": "4s", "ROUND_RETRIES": "1", "SESSION_TIMEOUT": "60s",
           "NONCE_POOL_TARGET": "2"}
    api, url = start_api(env, log_dir, name="api-cli")
    env["COORDINATOR_ENDPOINT"] = url
    s = Stack(url, admin_token, env, log_dir, services_dir / "cli-nodes", api,
              ManagedProcess("none", ["true"], log_path=log_dir / "none.log"))
    try:
        s.start_coordinator()
        for node in NODES:
            openbao_server.ensure_transit_key(f"mpc-{node}")
            s.start_participant(node, node_token)
        s.wait_online(NODES)
        yield s
    finally:
        s.stop()
