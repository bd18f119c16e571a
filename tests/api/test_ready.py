"""/ready reports each dependency and goes 503, naming it, when one is down."""

from __future__ import annotations

from pathlib import Path

import httpx

from mpc.devstack.ports import free_port
from mpc.devstack.redis import RedisServer
from tests.services import start_api


def test_ready_when_all_services_are_up(api_server: str) -> None:
    reply = httpx.get(f"{api_server}/ready", timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["checks"] == {"database": "ok", "redis": "ok", "temporal": "ok", "vault": "ok"}


def test_ready_goes_503_naming_a_stopped_service(stack_env: dict[str, str], tmp_path: Path) -> None:
    own_redis = RedisServer(tmp_path / "redis", free_port())
    own_redis.start()
    api, url = start_api({**stack_env, "REDIS_PORT": str(own_redis.port)}, tmp_path / "logs", name="api-ready")
    try:
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200
        own_redis.stop()
        reply = httpx.get(f"{url}/ready", timeout=10)
        assert reply.status_code == 503
        body = reply.json()
        assert body["checks"]["redis"].startswith("unavailable")
        assert body["checks"]["database"] == "ok"
        assert "redis" in body["error"]["message"]
    finally:
        api.stop()
        own_redis.stop()


def test_ready_names_unreachable_vault(stack_env: dict[str, str], tmp_path: Path) -> None:
    closed = free_port()
    api, url = start_api({**stack_env, "VAULT_ADDR": f"http://127.0.0.1:{closed}"}, tmp_path / "logs",
                         name="api-vault")
    try:
        reply = httpx.get(f"{url}/ready", timeout=10)
        assert reply.status_code == 503
        assert reply.json()["checks"]["vault"].startswith("unavailable")
    finally:
        api.stop()
