"""Settings: environment over YAML file over defaults; one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpc.settings import REQUIRE_ENVIRONMENT, Settings, SettingsError, load_settings, parse_duration

GUIDE_CONFIG = """
node:
  type: participant
  id: node-7
  coordinator_endpoint: http://coordinator:8080
database:
  host: db.internal
  port: 5433
  name: mpc_prod
  user: mpc
  password: from-file
redis:
  host: cache.internal
  port: 6380
storage:
  key_share_path: /var/lib/mpc/shares
server:
  listen_address: 0.0.0.0
  http_port: 8081
  grpc_port: 9091
logging:
  level: debug
protocols:
  supported: [gg20, frost]
  default: frost
auth:
  type: token
  token_ttl: 12h
temporal:
  address: temporal:7233
  namespace: mpc
vault:
  addr: http://vault:8200
  transit_key: mpc-node-7
performance:
  max_concurrent_sessions: 20
  max_concurrent_signings: 10
  session_timeout: 2m
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv(REQUIRE_ENVIRONMENT, raising=False)  # set inside the container image
    monkeypatch.setenv("MPC_CONFIG", str(tmp_path / "none.yaml"))
    (tmp_path / "none.yaml").write_text("")
    return monkeypatch


def test_yaml_file_of_the_guide_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(GUIDE_CONFIG)
    clean_env.setenv("MPC_CONFIG", str(config))
    s = load_settings()
    assert (s.node_type, s.node_id, s.db_host, s.db_port, s.redis_port) == ("participant", "node-7", "db.internal",
                                                                            5433, 6380)
    assert s.supported_protocols == ["gg20", "frost"] and s.default_protocol == "frost"
    assert s.token_ttl == 12 * 3600 and s.session_timeout == 120
    assert s.log_level == "DEBUG" and s.max_concurrent_signings == 10
    assert s.db_password.get_secret_value() == "from-file"
    assert s.transit_key_name == "mpc-node-7"


def test_environment_overrides_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(GUIDE_CONFIG)
    clean_env.setenv("MPC_CONFIG", str(config))
    clean_env.setenv("DB_PORT", "6000")
    clean_env.setenv("SUPPORTED_PROTOCOLS", "gg18,gg20,frost")
    clean_env.setenv("DEFAULT_PROTOCOL", "gg18")
    s = load_settings()
    assert s.db_port == 6000
    assert s.supported_protocols == ["gg18", "gg20", "frost"]
    assert s.db_host == "db.internal"  # untouched values still come from the file


def test_defaults_without_file(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.default_protocol == "gg20" and s.supported_protocols == ["gg18", "gg20", "frost"]
    assert s.http_port == 8080 and s.grpc_port == 9090


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DB_PORT", "abc", "DB_PORT"),
        ("DB_PORT", "70000", "DB_PORT"),
        ("SUPPORTED_PROTOCOLS", "frost,schnorr2", "SUPPORTED_PROTOCOLS"),
        ("DEFAULT_PROTOCOL", "gg18", "DEFAULT_PROTOCOL"),  # with SUPPORTED_PROTOCOLS=frost (set in the test)
        ("TOKEN_TTL", "soon", "TOKEN_TTL"),
        ("SESSION_TIMEOUT", "-5s", "SESSION_TIMEOUT"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("KEY_SHARE_ENCRYPTION_KEY", "abcd", "KEY_SHARE_ENCRYPTION_KEY"),
        ("TLS_ENABLED", "true", "TLS_ENABLED"),
        ("AUTH_TYPE", "magic", "AUTH_TYPE"),
        ("NODE_TYPE", "observer", "NODE_TYPE"),
        ("MAX_CONCURRENT_SESSIONS", "0", "MAX_CONCURRENT_SESSIONS"),
    ],
)
def test_bad_value_is_one_line_naming_the_setting(
    clean_env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    if name == "DEFAULT_PROTOCOL":
        clean_env.setenv("SUPPORTED_PROTOCOLS", "frost")
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(expected + ":"), message
    assert "\n" not in message


def test_unknown_yaml_key_and_missing_file_are_errors(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  hots: typo\n")
    clean_env.setenv("MPC_CONFIG", str(config))
    with pytest.raises(SettingsError, match=r"^database\.hots: unknown setting"):
        load_settings()
    clean_env.setenv("MPC_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match=r"^MPC_CONFIG: file .* does not exist"):
        load_settings()


def test_production_refuses_placeholders(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ENVIRONMENT", "production")
    clean_env.setenv("DB_PASSWORD", "changeme")
    with pytest.raises(SettingsError, match=r"^DB_PASSWORD: a real secret is required"):
        load_settings()


def test_payload_codec_requires_a_key(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match=r"^PAYLOAD_CODEC_KEY: required"):
        load_settings().payload_codec()
    clean_env.setenv("PAYLOAD_CODEC_KEY", "zz")
    with pytest.raises(SettingsError, match=r"^PAYLOAD_CODEC_KEY: must be 32 bytes"):
        load_settings().payload_codec()


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("24h", 86400), ("500ms", 0.5), (12, 12)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_production_participant_needs_no_database_password(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ENVIRONMENT", "production")
    clean_env.setenv("NODE_TYPE", "participant")
    clean_env.setenv("VAULT_ADDR", "http://vault:8200")
    clean_env.setenv("PAYLOAD_CODEC_KEY", "ab" * 32)
    assert load_settings().db_password.get_secret_value() == ""
    clean_env.setenv("NODE_TYPE", "coordinator")
    with pytest.raises(SettingsError, match=r"^DB_PASSWORD"):
        load_settings()


@pytest.mark.parametrize(("chain", "expected"), [("ethereum", "gg20"), ("bitcoin", "gg20"), ("solana", "frost"),
                                                 ("ed25519", "frost"), ("schnorr", "frost")])
def test_default_protocol_fits_the_chain(clean_env: pytest.MonkeyPatch, chain: str, expected: str) -> None:
    from api.orchestration import default_protocol_for

    assert default_protocol_for(load_settings(), chain) == expected


@pytest.mark.parametrize("environment", ["development", "test"])
def test_auth_type_none_allowed_in_development_and_test(clean_env: pytest.MonkeyPatch, environment: str) -> None:
    clean_env.setenv("ENVIRONMENT", environment)
    clean_env.setenv("AUTH_TYPE", "none")
    assert load_settings().auth_type == "none"


def test_auth_type_none_refused_in_production(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ENVIRONMENT", "production")
    clean_env.setenv("AUTH_TYPE", "none")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("AUTH_TYPE:"), message
    assert "\n" not in message


def test_image_marker_refuses_a_missing_environment(clean_env: pytest.MonkeyPatch) -> None:
    """SECURITY.md A6: where the image's MPC_REQUIRE_ENVIRONMENT is set, no development default."""
    clean_env.setenv(REQUIRE_ENVIRONMENT, "1")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("ENVIRONMENT:") and "\n" not in message, message


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_image_marker_accepts_an_explicit_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path,
                                                      environment: str) -> None:
    clean_env.setenv(REQUIRE_ENVIRONMENT, "1")
    clean_env.setenv("PAYLOAD_CODEC_KEY", "ab" * 32)
    clean_env.setenv("DB_PASSWORD", "a" * 32)
    clean_env.setenv("VAULT_ADDR", "http://vault:8200")
    clean_env.setenv("ENVIRONMENT", environment)
    assert load_settings().environment == environment
    clean_env.delenv("ENVIRONMENT")
    config = tmp_path / "explicit.yaml"
    config.write_text(f"environment: {environment}\n")  # the config file counts as explicit too
    clean_env.setenv("MPC_CONFIG", str(config))
    assert load_settings().environment == environment


@pytest.mark.parametrize("marker", ["", "0"])
def test_without_the_marker_development_stays_the_default(clean_env: pytest.MonkeyPatch, marker: str) -> None:
    clean_env.setenv(REQUIRE_ENVIRONMENT, marker)
    assert load_settings().environment == "development"
