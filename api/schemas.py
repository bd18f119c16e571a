"""Request and response schemas (kept apart from the database models)."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import JsonDict
from temporalio.api.common.v1 import Payload

from mpc.intents import KeyPolicy
from mpc.protocols import KEY_PROTOCOLS
from mpc.settings import parse_duration

NODE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_HEX32 = re.compile(r"^[0-9a-f]{64}$")
HEX32_SCHEMA: JsonDict = {"pattern": "^[0-9a-fA-F]{64}$"}
"""What the hex validators below accept, stated in the OpenAPI schema (the validators keep their messages)."""
HEX64_SCHEMA: JsonDict = {"pattern": "^[0-9a-fA-F]{128}$"}


def _hex32(value: str) -> str:
    value = value.lower()
    if not _HEX32.match(value):
        raise ValueError("must be 32 bytes as 64 lower-case hex characters")
    return value


class NodeRegistration(BaseModel):
    """Sent by a participant at start; signed with its Ed25519 identity key."""

    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(pattern=NODE_ID_PATTERN)
    endpoint: str = Field(default="", max_length=256)
    signing_public_key: str = Field(json_schema_extra=HEX32_SCHEMA)
    encryption_public_key: str = Field(json_schema_extra=HEX32_SCHEMA)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    version: str | None = Field(default=None, max_length=32)
    metrics_url: str = Field(default="", max_length=256, pattern=r"^(https?://\S+)?$",
                             description="where Prometheus scrapes this node (its METRICS_PORT)")
    timestamp: float
    signature: str

    _keys = field_validator("signing_public_key", "encryption_public_key")(_hex32)


POOL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_POOLS = 16
PoolName = Annotated[str, Field(pattern=POOL_NAME_PATTERN)]
PoolLevel = Annotated[int, Field(ge=0, le=1_000_000_000)]


class NodeHeartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: float
    signature: str
    pool_levels: dict[PoolName, PoolLevel] | None = Field(
        default=None, max_length=MAX_POOLS,
        description="one-time secrets ready on the node, by pool (e.g. `paillier_preparams`); signed with the "
                    "timestamp (mpc/node_auth.py `heartbeat_message`)")


class NodePublic(BaseModel):
    node_id: str
    node_type: str
    endpoint: str
    status: str
    admission: str = Field(description="pending until an admin approves the node; only admitted nodes hold keys")
    signing_public_key: str = Field(json_schema_extra=HEX32_SCHEMA)
    encryption_public_key: str = Field(json_schema_extra=HEX32_SCHEMA)
    capabilities: dict[str, Any]
    version: str | None
    metrics_url: str = Field(description="the node's /metrics (empty: not announced)")
    registered_at: datetime
    last_heartbeat: datetime
    seconds_since_heartbeat: float
    pool_levels: dict[str, int] = Field(
        default_factory=dict, description="one-time secrets ready on the node, by pool, as its last heartbeat "
                                          "reported them (`paillier_preparams`, `frost_nonces`, `gg20_presignatures`;"
                                          " empty: not reported yet)")


class NodeList(BaseModel):
    nodes: list[NodePublic]
    online: int
    total: int


# ---- keys and signing ---------------------------------------------------------------------

PROTOCOLS = tuple(KEY_PROTOCOLS)
MAX_NODES = 255
CHAINS = ("bitcoin", "ethereum", "solana", "schnorr", "ed25519")
CURVES = ("ed25519", "secp256k1", "secp256k1-tr")


class ApproverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    public_key: str = Field(description="Ed25519 public key, 64 hex characters", json_schema_extra=HEX32_SCHEMA)

    _key = field_validator("public_key")(_hex32)


class QuorumIn(BaseModel):
    """Distinct listed approvers needed per operation on top of the API (left out: none)."""

    model_config = ConfigDict(extra="forbid")

    sign: int | None = Field(default=None, ge=0)
    reshare: int | None = Field(default=None, ge=0, description="also covers refresh")
    export: int | None = Field(default=None, ge=0)
    disable: int | None = Field(default=None, ge=0)


class KeyPolicyIn(BaseModel):
    """Who must approve each operation of the key; pinned with every share at keygen."""

    model_config = ConfigDict(extra="forbid")

    approvers: list[ApproverIn] = Field(default_factory=list, max_length=32)
    quorum: QuorumIn = Field(default_factory=QuorumIn)

    @model_validator(mode="after")
    def _consistent(self) -> KeyPolicyIn:
        KeyPolicy.from_dict(self.as_policy_dict())  # distinct names and keys, quorum <= approvers
        return self

    def as_policy_dict(self) -> dict[str, Any]:
        quorum = {op: n for op, n in self.quorum.model_dump().items() if n is not None}
        return {"approvers": [a.model_dump() for a in self.approvers], "quorum": quorum}


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "total_nodes": 3},
        {"protocol": "frost", "chain_type": "bitcoin", "threshold": 2, "total_nodes": 2, "tags": {"team": "ops"}},
    ]})

    protocol: str | None = Field(default=None, description="frost, gg18 or gg20 (default DEFAULT_PROTOCOL)",
                                 json_schema_extra={"enum": [*PROTOCOLS, None]})
    curve: str | None = Field(default=None, description="ed25519, secp256k1 or secp256k1-tr (default from chain)",
                              json_schema_extra={"enum": [*CURVES, None]})
    chain_type: str = Field(description="bitcoin, ethereum, solana, schnorr or ed25519",
                            json_schema_extra={"enum": list(CHAINS)})
    threshold: int = Field(description="t: the minimum number of signers (2-of-3 means threshold 2)",
                           json_schema_extra={"minimum": 2, "maximum": MAX_NODES})
    total_nodes: int | None = Field(default=None, description="n; or give `nodes`",
                                    json_schema_extra={"minimum": 2, "maximum": MAX_NODES})
    nodes: list[str] | None = Field(default=None, description="participant node ids (default: online nodes)",
                                    json_schema_extra={"minItems": 2, "maxItems": MAX_NODES, "uniqueItems": True,
                                                       "items": {"type": "string", "pattern": NODE_ID_PATTERN}})
    description: str | None = Field(default=None, max_length=1000)
    tags: dict[str, str] = Field(default_factory=dict, json_schema_extra={
        "maxProperties": 32, "propertyNames": {"maxLength": 64}, "additionalProperties": {"type": "string",
                                                                                            "maxLength": 256}})
    policy: KeyPolicyIn | None = Field(default=None, description="approvers and quorums (default: the API alone)")
    allow_raw_digest: bool | None = Field(
        default=None, description="may the key sign a bare 32-byte digest (POST /sign)? Default: yes for schnorr "
                                  "and ed25519 keys, no for ethereum, bitcoin and solana keys, which then sign "
                                  "only transactions the nodes decode (POST /transactions). Pinned on every node.")
    refresh_every: str | None = Field(default=None, max_length=32, description='refresh the key this often, e.g. '
                                      '"24h" (a Temporal Schedule; PUT /v1/keys/{key_id}/refresh-schedule changes it)')

    @field_validator("refresh_every")
    @classmethod
    def _refresh_every(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) < 1:
            raise ValueError("refresh_every must be at least 1s")
        return value

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str | None) -> str | None:
        if value is not None and value not in PROTOCOLS:
            raise ValueError(f"must be one of {', '.join(PROTOCOLS)}")
        return value

    @field_validator("chain_type")
    @classmethod
    def _chain(cls, value: str) -> str:
        if value not in CHAINS:
            raise ValueError(f"must be one of {', '.join(CHAINS)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 32 or any(len(k) > 64 or len(v) > 256 for k, v in value.items()):
            raise ValueError("at most 32 tags, keys up to 64 and values up to 256 characters")
        return value


class KeyPublic(BaseModel):
    key_id: str
    public_key: str | None
    verifying_key: str | None = Field(description="the key signatures verify under (Taproot: the tweaked output key)")
    protocol: str
    curve: str
    threshold: int
    total_nodes: int
    participants: list[str]
    chain_type: str
    address: str | None
    status: str
    epoch: int
    description: str | None
    tags: dict[str, str]
    policy: dict[str, Any] = Field(description="approvers and quorum per operation, pinned on every node")
    allow_raw_digest: bool = Field(default=True, description="whether the key signs bare digests (else only "
                                                             "transactions), pinned on every node")
    created_at: datetime


class KeyList(BaseModel):
    keys: list[KeyPublic]
    total: int


DERIVATION_PATH_FIELD = Field(
    default=None, max_length=1024, examples=["m/0/17"],
    description="sign with the key's BIP-32 child at this non-hardened path (secp256k1 keys; a hardened step "
                "is 422 hardened_not_possible)")

MAX_BATCH_DIGESTS = 256
"""`digests` of one batch request: one session, one intent, one nonce per digest."""
_DIGEST_HEX = re.compile(r"[0-9a-f]{64}")


def _digest_hex(value: str) -> str:
    value = value.lower().removeprefix("0x")
    if not _DIGEST_HEX.fullmatch(value):
        raise ValueError("must be 32 bytes as 64 hex characters")
    return value


class SignCreate(BaseModel):
    FINGERPRINT_OMIT_NONE: ClassVar[tuple[str, ...]] = ("digests",)
    """Left out of the Idempotency-Key fingerprint when unset: a single-digest body keeps the fingerprint it had."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"digest": "00" * 32}, {"digests": ["00" * 32, "11" * 32]}]})

    digest: str | None = Field(default=None, description="32-byte message digest, hex (hashed by the chain's rule "
                                                         "upstream); give either `digest` or `digests`",
                               json_schema_extra={"pattern": "^(0x)?[0-9a-fA-F]{64}$"})
    digests: list[str] | None = Field(
        default=None, description=f"batch: 1-{MAX_BATCH_DIGESTS} distinct 32-byte digests, hex, signed in one session "
                                  "under one intent; the session's `signatures` follow this order (FROST keys)",
        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH_DIGESTS, "uniqueItems": True,
                           "items": {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"}})
    signers: list[str] | None = Field(default=None, description="node ids to sign with (default: online nodes)",
                                      json_schema_extra={"minItems": 2, "uniqueItems": True,
                                                         "items": {"type": "string", "pattern": NODE_ID_PATTERN}})
    taproot_merkle_root: str | None = Field(default=None, description="Bitcoin: 32-byte script-tree root, hex",
                                            json_schema_extra=HEX32_SCHEMA)
    derivation_path: str | None = DERIVATION_PATH_FIELD

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        return None if value is None else _digest_hex(value)

    @field_validator("digests")
    @classmethod
    def _digests(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not 1 <= len(value) <= MAX_BATCH_DIGESTS:
            raise ValueError(f"give 1 to {MAX_BATCH_DIGESTS} digests")
        digests = [_digest_hex(v) for v in value]
        if len(set(digests)) != len(digests):
            raise ValueError("digests must be distinct")
        return digests

    @model_validator(mode="after")
    def _one_of(self) -> SignCreate:
        if (self.digest is None) == (self.digests is None):
            raise ValueError("give exactly one of digest and digests")
        return self

    @field_validator("taproot_merkle_root")
    @classmethod
    def _root(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{64}", value.lower()):
            raise ValueError("must be 32 bytes as 64 hex characters")
        return value.lower() if value else None


class SessionError(BaseModel):
    code: str
    message: str
    node: str | None = None
    nodes: list[str] = Field(default_factory=list)


class ApprovalDecision(BaseModel):
    approver: str | None
    public_key: str | None
    decision: str = Field(description="approve or reject")
    at: datetime


class SessionPublic(BaseModel):
    session_id: str
    key_id: str | None
    workflow_id: str = Field(description="the Temporal workflow running this session (for the Web UI / CLI)")
    operation: str
    protocol: str
    status: str
    current_round: int
    total_rounds: int
    participants: list[str]
    message_hash: str | None
    signature: str | None
    message_hashes: list[str] | None = Field(default=None, description="a batch session: its digests, in request "
                                                                       "order")
    signatures: list[str] | None = Field(default=None, description="a batch session: one signature per digest, in "
                                                                   "request order")
    error: SessionError | None
    duration_ms: int | None
    created_at: datetime
    completed_at: datetime | None
    approvals: list[ApprovalDecision] = Field(default_factory=list,
                                              description="approver decisions (GET of one session only)")
    derivation_path: str | None = Field(default=None, description="the BIP-32 child that signs (None: the key)")
    transaction: dict[str, Any] | None = Field(
        default=None, description="a transaction session: what is signed, decoded (chain, to, amount, fee, "
                                  "inputs, outputs)")
    result: dict[str, Any] | None = Field(
        default=None, description="a completed transaction session: the signed transaction (ethereum: "
                                  "raw_transaction, transaction_hash; bitcoin: psbt, raw_transaction; solana: "
                                  "transaction, signature)")


class KeygenSessionPublic(SessionPublic):
    """A keygen session as `POST /v1/keys` answers it: the session and the key it makes."""

    key: KeyPublic | None = Field(default=None, description="the key (pending until the keygen completes)")


class SessionList(BaseModel):
    sessions: list[SessionPublic]
    total: int


class AuditLogPublic(BaseModel):
    id: int
    timestamp: datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    session_id: str | None
    status: str
    details: dict[str, Any]


class AuditLogList(BaseModel):
    entries: list[AuditLogPublic]
    total: int


# ---- approvals -----------------------------------------------------------------------------


class ApproverRef(BaseModel):
    name: str | None
    public_key: str


class IntentPublic(BaseModel):
    """What an approver signs: the canonical intent bytes (hex) and, for reading, their fields."""

    session_id: str
    status: str
    intent: str = Field(description="the canonical intent bytes, hex; sign these (or the rejection tag + these)")
    intent_fields: dict[str, Any]
    approvals_needed: int
    approvals: list[ApproverRef]
    rejected_by: str | None


class ApprovalAccepted(BaseModel):
    session_id: str
    approver: str
    decision: str = Field(description="approve or reject")


# ---- health and the codec server -----------------------------------------------------------


class ReadyStatus(BaseModel):
    status: str = Field(description="ready, or not_ready (then with `error`, and HTTP 503)")
    checks: dict[str, str] = Field(description="per dependency: ok, or unavailable and why")
    error: dict[str, str] | None = None


BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
"""Standard base64 with padding, as protobuf JSON writes bytes (and the Temporal UI sends them)."""
Base64 = Annotated[str, Field(pattern=BASE64_PATTERN)]


class ExternalPayloadJson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sizeBytes: str = Field(default="0", pattern=r"^[0-9]{1,18}$", description="int64, as protobuf JSON writes it")


class PayloadJson(BaseModel):
    """A Temporal `Payload` in protobuf JSON: metadata values and data are base64."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""
    externalPayloads: list[ExternalPayloadJson] = Field(default_factory=list)

    def to_payload(self) -> Payload:
        return Payload(metadata={k: base64.b64decode(v) for k, v in self.metadata.items()},
                       data=base64.b64decode(self.data),
                       external_payloads=[Payload.ExternalPayloadDetails(size_bytes=int(e.sizeBytes))
                                          for e in self.externalPayloads])


class PayloadsJson(BaseModel):
    """The codec server's body and answer: `{"payloads": [...]}`, nothing else."""

    model_config = ConfigDict(extra="forbid")

    payloads: list[PayloadJson] = Field(default_factory=list)
