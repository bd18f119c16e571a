"""docker-compose.yml: the Compose specification's schema, valid `mpc` commands, and the dev stack's shape."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest

from mpc.cli.main import build_parser
from mpc.devstack.temporal import SEARCH_ATTRIBUTES
from tests.deploy.conftest import COMPOSE, ROOT

# Vendored from https://github.com/compose-spec/compose-spec (schema/compose-spec.json, commit
# 170098ba07d9f53c383a41bfd4c5166b0a4529a6, Apache-2.0): the schema `docker compose config` validates against.
SCHEMA = Path(__file__).with_name("compose-spec.json")
PARTICIPANTS = ("node-1", "node-2", "node-3")
MPC_IMAGE = "${MPC_IMAGE:-mpc-signer:dev}"


def _mpc_services(compose) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == MPC_IMAGE}


def test_compose_file_matches_the_compose_specification(compose) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_schema_rejects_a_broken_file(compose) -> None:  # the schema check is not vacuous
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_the_stack_has_every_service(compose) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:14")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgres"
    assert "temporal-ui" in services and "temporal-setup" in services
    assert "openbao" in services["vault"]["image"] or "vault" in services["vault"]["image"]
    assert {"vault-bootstrap", "migrate", "node-tokens", "api", "coordinator", *PARTICIPANTS} <= set(services)
    ports = services["api"]["ports"]
    assert any(p.endswith(":8080") for p in ports) and any(p.endswith(":9090") for p in ports)
    for service in services.values():  # published ports bind to loopback only
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_mpc_commands_are_valid_subcommands(compose) -> None:
    parser = build_parser()
    commands = {}
    for name, svc in _mpc_services(compose).items():
        if "entrypoint" in svc:
            continue  # one-shot scripts, checked below
        args = parser.parse_args(svc["command"])
        commands[name] = svc["command"]
        assert args.handler
    assert commands["migrate"] == ["migrate", "up"]
    assert commands["api"] == ["api"]
    assert commands["coordinator"] == ["worker", "coordinator"]
    for node in PARTICIPANTS:
        assert commands[node] == ["worker", "participant"]


def test_one_shot_scripts_exist_and_call_valid_mpc_commands(compose) -> None:
    parser = build_parser()
    for name, svc in compose["services"].items():
        entrypoint = svc.get("entrypoint")
        if not entrypoint:
            continue
        script = entrypoint[-1]
        assert script.startswith("/deploy/"), name
        local = ROOT / script.lstrip("/")
        assert local.is_file(), f"{name}: {local} missing"
        mounted = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"] if v.startswith("./")}
        assert any(script.startswith(target) for target in mounted), f"{name}: {script} not mounted"
        for line in local.read_text().splitlines():
            match = re.match(r'\s*mpc (.*?) >', line)
            if match:
                argv = shlex.split(match.group(1).replace("$", ""))
                parser.parse_args(argv)


def test_one_shots_and_health_gate_the_start_order(compose) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "temporal", "vault", "api", "coordinator", *PARTICIPANTS):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("migrate", "temporal-setup", "vault-bootstrap", "node-tokens"):
        assert services[name]["restart"] == "no"

    def cond(service: str, dep: str) -> str:
        return services[service]["depends_on"][dep]["condition"]

    assert cond("temporal", "postgres") == "service_healthy"
    assert cond("migrate", "postgres") == "service_healthy"
    assert cond("api", "migrate") == "service_completed_successfully"
    assert cond("api", "redis") == "service_healthy"
    assert cond("api", "temporal-setup") == "service_completed_successfully"
    assert cond("coordinator", "migrate") == "service_completed_successfully"
    assert cond("node-tokens", "migrate") == "service_completed_successfully"
    for node in PARTICIPANTS:
        assert cond(node, "api") == "service_healthy"
        assert cond(node, "vault-bootstrap") == "service_completed_successfully"
        assert cond(node, "node-tokens") == "service_completed_successfully"


def test_each_participant_has_its_own_volumes_transit_key_and_tokens(compose) -> None:
    services = compose["services"]
    seen_volumes: dict[str, str] = {}
    for node in PARTICIPANTS:
        svc = services[node]
        env = svc["environment"]
        assert env["NODE_TYPE"] == "participant" and env["NODE_ID"] == node
        assert env["VAULT_TRANSIT_KEY"] == f"mpc-{node}"
        assert env["API_TOKEN_FILE"].startswith("/run/secrets/mpc/")
        assert env["VAULT_TOKEN_FILE"].startswith("/run/secrets/mpc/")
        assert "VAULT_TOKEN" not in env and "API_TOKEN" not in env
        mounts = dict(v.split(":")[:2] for v in svc["volumes"])
        assert mounts[f"{node}-shares"] == env["KEY_SHARE_STORAGE_PATH"]
        assert f"{node}-credentials" in mounts
        for volume in mounts:
            assert volume not in seen_volumes, f"{node} shares volume {volume} with {seen_volumes.get(volume)}"
            seen_volumes[volume] = node
            assert volume in compose["volumes"]
    # the other services never mount a participant's shares
    for name, svc in services.items():
        if name not in PARTICIPANTS:
            assert not [v for v in svc.get("volumes", []) if "-shares:" in v], name
    assert services["vault-bootstrap"]["environment"]["PARTICIPANTS"].split() == list(PARTICIPANTS)


def test_mpc_containers_are_hardened(compose) -> None:
    for name, svc in _mpc_services(compose).items():
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert "user" not in svc or svc["user"] not in ("root", "0", "0:0"), name
        env = svc["environment"]
        assert env["PAYLOAD_CODEC_KEY"].startswith("${PAYLOAD_CODEC_KEY:?"), name


def test_secrets_come_from_env_file_and_env_example_lists_them(compose) -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert required == {"DB_PASSWORD", "REDIS_PASSWORD", "PAYLOAD_CODEC_KEY"}
    example = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    for name in required:
        assert name in example, f".env.example lacks {name}"
        assert example[name] == "", f".env.example must not hold a value for {name}"
    optional = set(re.findall(r"\$\{([A-Z_]+):-", text))
    commented = (ROOT / ".env.example").read_text()
    for name in optional:
        assert name in commented, f".env.example does not mention {name}"


def test_temporal_bootstrap_registers_every_search_attribute_and_dynamic_config() -> None:
    import yaml

    from mpc.devstack.temporal import FAST_DYNAMIC_CONFIG

    setup = (ROOT / "deploy" / "temporal" / "setup.sh").read_text()
    listed = re.search(r'ATTRIBUTES="([^"]+)"', setup).group(1).split()
    assert set(listed) == set(SEARCH_ATTRIBUTES)
    assert set(SEARCH_ATTRIBUTES.values()) == {"Keyword"} and "--type Keyword" in setup
    dynamic = yaml.safe_load((ROOT / "deploy" / "temporal" / "dynamicconfig.yaml").read_text())
    for item in FAST_DYNAMIC_CONFIG:
        key, _, value = item.partition("=")
        assert key in dynamic, key
        assert str(dynamic[key][0]["value"]) == value.strip('"'), key


@pytest.mark.parametrize("node", PARTICIPANTS)
def test_vault_policy_renders_to_one_key_only(node: str) -> None:
    template = (ROOT / "deploy" / "vault" / "policies" / "participant.hcl.tmpl").read_text()
    policy = template.replace("@MOUNT@", "transit").replace("@KEY@", f"mpc-{node}")
    paths = re.findall(r'^path "([^"]+)"', policy, flags=re.M)
    transit = [p for p in paths if p.startswith("transit/") and p != "transit/keys/mpc-api-intent"]
    assert transit and all(p.endswith(f"/mpc-{node}") for p in transit)
    # besides its own key, only the API intent key's public half (read): never sign/ with it
    intent_block = policy.split('path "transit/keys/mpc-api-intent"', 1)[1].split("}", 1)[0]
    assert '["read"]' in intent_block and "transit/sign/" not in policy
    assert not [p for p in paths if "*" in p or "+" in p]
    assert not [p for p in transit if "/export/" in p or (p.startswith("transit/keys/") and "delete" in policy)]


_VAR = re.compile(r"\$\{([A-Z_]+)(?::([?-])([^}]*))?\}")
_DOT_ENV = {"DB_PASSWORD": "x" * 24, "REDIS_PASSWORD": "y" * 24, "PAYLOAD_CODEC_KEY": "cd" * 32}


def _interpolate(value: str) -> str:
    def sub(match: re.Match) -> str:
        name, kind, rest = match.groups()
        if name in _DOT_ENV:
            return _DOT_ENV[name]
        assert kind == "-", f"${{{name}}} has no default and is not in .env.example"
        return rest
    return _VAR.sub(sub, str(value))


@pytest.mark.parametrize("service", ["migrate", "node-tokens", "api", "coordinator", *PARTICIPANTS])
def test_each_mpc_service_environment_loads_with_the_settings(compose, service, tmp_path, monkeypatch) -> None:
    from mpc.settings import REQUIRE_ENVIRONMENT, Settings, load_settings

    env = {k: _interpolate(v) for k, v in compose["services"][service]["environment"].items()}
    for name in {n.upper() for n in Settings.model_fields} | {"MPC_CONFIG"}:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "config.yaml"
    empty.write_text("")
    monkeypatch.setenv("MPC_CONFIG", str(empty))
    monkeypatch.setenv(REQUIRE_ENVIRONMENT, "1")  # as the image sets it: ENVIRONMENT must come from here
    assert env["ENVIRONMENT"] == "development"
    for name, value in env.items():
        if name.endswith("_FILE"):  # what the entry point reads from the credentials volume
            monkeypatch.setenv(name.removesuffix("_FILE"), "file-content-" + name.lower())
        else:
            monkeypatch.setenv(name, value)
    settings = load_settings()
    settings.payload_codec()
    if service in PARTICIPANTS:  # no database or Redis credentials for the share holders
        assert not {"DB_PASSWORD", "REDIS_PASSWORD", "DB_HOST"} & set(env)
    else:
        assert settings.db_host == "postgres" and settings.redis_host == "redis"
        assert settings.db_password.get_secret_value() == _DOT_ENV["DB_PASSWORD"]
    assert settings.temporal_address == "temporal:7233" and settings.vault_addr == "http://vault:8200"
    if service in PARTICIPANTS:
        assert settings.node_type == "participant" and settings.node_id == service
        assert settings.transit_key_name == f"mpc-{service}"
        assert settings.coordinator_endpoint == "http://api:8080"
        assert settings.api_token.get_secret_value() and settings.vault_token.get_secret_value()
