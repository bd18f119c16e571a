import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Approver(_message.Message):
    __slots__ = ("name", "public_key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    public_key: str
    def __init__(self, name: _Optional[str] = ..., public_key: _Optional[str] = ...) -> None: ...

class Quorum(_message.Message):
    __slots__ = ("sign", "reshare", "export", "disable")
    SIGN_FIELD_NUMBER: _ClassVar[int]
    RESHARE_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    DISABLE_FIELD_NUMBER: _ClassVar[int]
    sign: int
    reshare: int
    export: int
    disable: int
    def __init__(self, sign: _Optional[int] = ..., reshare: _Optional[int] = ..., export: _Optional[int] = ..., disable: _Optional[int] = ...) -> None: ...

class KeyPolicyInput(_message.Message):
    __slots__ = ("approvers", "quorum")
    APPROVERS_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    approvers: _containers.RepeatedCompositeFieldContainer[Approver]
    quorum: Quorum
    def __init__(self, approvers: _Optional[_Iterable[_Union[Approver, _Mapping]]] = ..., quorum: _Optional[_Union[Quorum, _Mapping]] = ...) -> None: ...

class KeyPolicy(_message.Message):
    __slots__ = ("approvers", "quorum", "allow_raw_digest")
    class QuorumEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    APPROVERS_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    ALLOW_RAW_DIGEST_FIELD_NUMBER: _ClassVar[int]
    approvers: _containers.RepeatedCompositeFieldContainer[Approver]
    quorum: _containers.ScalarMap[str, int]
    allow_raw_digest: bool
    def __init__(self, approvers: _Optional[_Iterable[_Union[Approver, _Mapping]]] = ..., quorum: _Optional[_Mapping[str, int]] = ..., allow_raw_digest: _Optional[bool] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("protocol", "curve", "chain_type", "threshold", "total_nodes", "nodes", "description", "tags", "policy", "refresh_every", "allow_raw_digest", "idempotency_key", "wait", "timeout")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_TYPE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_NODES_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REFRESH_EVERY_FIELD_NUMBER: _ClassVar[int]
    ALLOW_RAW_DIGEST_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    curve: str
    chain_type: str
    threshold: int
    total_nodes: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    description: str
    tags: _containers.ScalarMap[str, str]
    policy: KeyPolicyInput
    refresh_every: str
    allow_raw_digest: bool
    idempotency_key: str
    wait: bool
    timeout: float
    def __init__(self, protocol: _Optional[str] = ..., curve: _Optional[str] = ..., chain_type: _Optional[str] = ..., threshold: _Optional[int] = ..., total_nodes: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., policy: _Optional[_Union[KeyPolicyInput, _Mapping]] = ..., refresh_every: _Optional[str] = ..., allow_raw_digest: _Optional[bool] = ..., idempotency_key: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout: _Optional[float] = ...) -> None: ...

class Key(_message.Message):
    __slots__ = ("key_id", "public_key", "verifying_key", "protocol", "curve", "threshold", "total_nodes", "participants", "chain_type", "address", "status", "epoch", "description", "tags", "policy", "created_at", "allow_raw_digest")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VERIFYING_KEY_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_NODES_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_TYPE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_RAW_DIGEST_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    public_key: str
    verifying_key: str
    protocol: str
    curve: str
    threshold: int
    total_nodes: int
    participants: _containers.RepeatedScalarFieldContainer[str]
    chain_type: str
    address: str
    status: str
    epoch: int
    description: str
    tags: _containers.ScalarMap[str, str]
    policy: KeyPolicy
    created_at: _timestamp_pb2.Timestamp
    allow_raw_digest: bool
    def __init__(self, key_id: _Optional[str] = ..., public_key: _Optional[str] = ..., verifying_key: _Optional[str] = ..., protocol: _Optional[str] = ..., curve: _Optional[str] = ..., threshold: _Optional[int] = ..., total_nodes: _Optional[int] = ..., participants: _Optional[_Iterable[str]] = ..., chain_type: _Optional[str] = ..., address: _Optional[str] = ..., status: _Optional[str] = ..., epoch: _Optional[int] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., policy: _Optional[_Union[KeyPolicy, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., allow_raw_digest: _Optional[bool] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("status", "chain_type", "limit", "offset")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_TYPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    status: str
    chain_type: str
    limit: int
    offset: int
    def __init__(self, status: _Optional[str] = ..., chain_type: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class KeyList(_message.Message):
    __slots__ = ("keys", "total")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[Key]
    total: int
    def __init__(self, keys: _Optional[_Iterable[_Union[Key, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class GetKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class SignRequest(_message.Message):
    __slots__ = ("key_id", "digest", "signers", "taproot_merkle_root", "derivation_path", "digests", "idempotency_key", "wait", "timeout")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    TAPROOT_MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    DERIVATION_PATH_FIELD_NUMBER: _ClassVar[int]
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    digest: str
    signers: _containers.RepeatedScalarFieldContainer[str]
    taproot_merkle_root: str
    derivation_path: str
    digests: _containers.RepeatedScalarFieldContainer[str]
    idempotency_key: str
    wait: bool
    timeout: float
    def __init__(self, key_id: _Optional[str] = ..., digest: _Optional[str] = ..., signers: _Optional[_Iterable[str]] = ..., taproot_merkle_root: _Optional[str] = ..., derivation_path: _Optional[str] = ..., digests: _Optional[_Iterable[str]] = ..., idempotency_key: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout: _Optional[float] = ...) -> None: ...

class KeyStateChangeRequest(_message.Message):
    __slots__ = ("key_id", "reason", "idempotency_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    reason: str
    idempotency_key: str
    def __init__(self, key_id: _Optional[str] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ReshareRequest(_message.Message):
    __slots__ = ("key_id", "threshold", "nodes", "reason", "idempotency_key", "wait", "timeout")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    threshold: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    idempotency_key: str
    wait: bool
    timeout: float
    def __init__(self, key_id: _Optional[str] = ..., threshold: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout: _Optional[float] = ...) -> None: ...

class RefreshRequest(_message.Message):
    __slots__ = ("key_id", "reason", "idempotency_key", "wait", "timeout")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    reason: str
    idempotency_key: str
    wait: bool
    timeout: float
    def __init__(self, key_id: _Optional[str] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout: _Optional[float] = ...) -> None: ...

class RefreshScheduleRequest(_message.Message):
    __slots__ = ("key_id", "every")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    every: str
    def __init__(self, key_id: _Optional[str] = ..., every: _Optional[str] = ...) -> None: ...

class RefreshSchedule(_message.Message):
    __slots__ = ("key_id", "schedule_id", "every_seconds")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    EVERY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    schedule_id: str
    every_seconds: float
    def __init__(self, key_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., every_seconds: _Optional[float] = ...) -> None: ...

class RecoverHolder(_message.Message):
    __slots__ = ("node_id", "party_id")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    party_id: int
    def __init__(self, node_id: _Optional[str] = ..., party_id: _Optional[int] = ...) -> None: ...

class RecoverRequest(_message.Message):
    __slots__ = ("key_id", "backup_id", "manifest", "manifest_signature", "threshold", "holders", "package_json", "shares", "reason", "idempotency_key", "wait", "timeout")
    class SharesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_JSON_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    backup_id: str
    manifest: str
    manifest_signature: str
    threshold: int
    holders: _containers.RepeatedCompositeFieldContainer[RecoverHolder]
    package_json: str
    shares: _containers.ScalarMap[str, str]
    reason: str
    idempotency_key: str
    wait: bool
    timeout: float
    def __init__(self, key_id: _Optional[str] = ..., backup_id: _Optional[str] = ..., manifest: _Optional[str] = ..., manifest_signature: _Optional[str] = ..., threshold: _Optional[int] = ..., holders: _Optional[_Iterable[_Union[RecoverHolder, _Mapping]]] = ..., package_json: _Optional[str] = ..., shares: _Optional[_Mapping[str, str]] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout: _Optional[float] = ...) -> None: ...

class Xpub(_message.Message):
    __slots__ = ("key_id", "xpub", "public_key", "chain_code")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    XPUB_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CHAIN_CODE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    xpub: str
    public_key: str
    chain_code: str
    def __init__(self, key_id: _Optional[str] = ..., xpub: _Optional[str] = ..., public_key: _Optional[str] = ..., chain_code: _Optional[str] = ...) -> None: ...

class AddressRequest(_message.Message):
    __slots__ = ("key_id", "path")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    path: str
    def __init__(self, key_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("key_id", "path", "public_key", "verifying_key", "address", "xpub")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VERIFYING_KEY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    XPUB_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    path: str
    public_key: str
    verifying_key: str
    address: str
    xpub: str
    def __init__(self, key_id: _Optional[str] = ..., path: _Optional[str] = ..., public_key: _Optional[str] = ..., verifying_key: _Optional[str] = ..., address: _Optional[str] = ..., xpub: _Optional[str] = ...) -> None: ...

class TransactionRequest(_message.Message):
    __slots__ = ("key_id", "chain", "transaction_json", "transaction", "psbt", "derivation_path", "idempotency_key", "wait", "timeout")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_JSON_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    PSBT_FIELD_NUMBER: _ClassVar[int]
    DERIVATION_PATH_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    chain: str
    transaction_json: str
    transaction: str
    psbt: str
    derivation_path: str
    idempotency_key: str
    wait: bool
    timeout: float
    def __init__(self, key_id: _Optional[str] = ..., chain: _Optional[str] = ..., transaction_json: _Optional[str] = ..., transaction: _Optional[str] = ..., psbt: _Optional[str] = ..., derivation_path: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., wait: _Optional[bool] = ..., timeout: _Optional[float] = ...) -> None: ...

class Epoch(_message.Message):
    __slots__ = ("epoch", "holders", "threshold", "created", "reason", "active")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    holders: _containers.RepeatedScalarFieldContainer[str]
    threshold: int
    created: _timestamp_pb2.Timestamp
    reason: str
    active: bool
    def __init__(self, epoch: _Optional[int] = ..., holders: _Optional[_Iterable[str]] = ..., threshold: _Optional[int] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class EpochList(_message.Message):
    __slots__ = ("key_id", "epochs")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    epochs: _containers.RepeatedCompositeFieldContainer[Epoch]
    def __init__(self, key_id: _Optional[str] = ..., epochs: _Optional[_Iterable[_Union[Epoch, _Mapping]]] = ...) -> None: ...

class SessionError(_message.Message):
    __slots__ = ("code", "message", "node", "nodes")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    node: str
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., node: _Optional[str] = ..., nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class ApprovalDecision(_message.Message):
    __slots__ = ("approver", "public_key", "decision", "at")
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    approver: str
    public_key: str
    decision: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, approver: _Optional[str] = ..., public_key: _Optional[str] = ..., decision: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "key_id", "workflow_id", "operation", "protocol", "status", "current_round", "total_rounds", "participants", "message_hash", "signature", "error", "duration_ms", "created_at", "completed_at", "approvals", "derivation_path", "transaction", "result", "message_hashes", "signatures")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ROUND_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    DERIVATION_PATH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_HASHES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    key_id: str
    workflow_id: str
    operation: str
    protocol: str
    status: str
    current_round: int
    total_rounds: int
    participants: _containers.RepeatedScalarFieldContainer[str]
    message_hash: str
    signature: str
    error: SessionError
    duration_ms: int
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    approvals: _containers.RepeatedCompositeFieldContainer[ApprovalDecision]
    derivation_path: str
    transaction: _struct_pb2.Struct
    result: _struct_pb2.Struct
    message_hashes: _containers.RepeatedScalarFieldContainer[str]
    signatures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., key_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., operation: _Optional[str] = ..., protocol: _Optional[str] = ..., status: _Optional[str] = ..., current_round: _Optional[int] = ..., total_rounds: _Optional[int] = ..., participants: _Optional[_Iterable[str]] = ..., message_hash: _Optional[str] = ..., signature: _Optional[str] = ..., error: _Optional[_Union[SessionError, _Mapping]] = ..., duration_ms: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approvals: _Optional[_Iterable[_Union[ApprovalDecision, _Mapping]]] = ..., derivation_path: _Optional[str] = ..., transaction: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., message_hashes: _Optional[_Iterable[str]] = ..., signatures: _Optional[_Iterable[str]] = ...) -> None: ...

class KeygenSession(_message.Message):
    __slots__ = ("session", "key")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    session: Session
    key: Key
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., key: _Optional[_Union[Key, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("key_id", "status", "limit", "offset")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    status: str
    limit: int
    offset: int
    def __init__(self, key_id: _Optional[str] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class SessionList(_message.Message):
    __slots__ = ("sessions", "total")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    total: int
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class ApproverRef(_message.Message):
    __slots__ = ("name", "public_key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    public_key: str
    def __init__(self, name: _Optional[str] = ..., public_key: _Optional[str] = ...) -> None: ...

class Intent(_message.Message):
    __slots__ = ("session_id", "status", "intent", "intent_fields", "approvals_needed", "approvals", "rejected_by")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELDS_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_NEEDED_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    status: str
    intent: str
    intent_fields: _struct_pb2.Struct
    approvals_needed: int
    approvals: _containers.RepeatedCompositeFieldContainer[ApproverRef]
    rejected_by: str
    def __init__(self, session_id: _Optional[str] = ..., status: _Optional[str] = ..., intent: _Optional[str] = ..., intent_fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., approvals_needed: _Optional[int] = ..., approvals: _Optional[_Iterable[_Union[ApproverRef, _Mapping]]] = ..., rejected_by: _Optional[str] = ...) -> None: ...

class ApprovalRequest(_message.Message):
    __slots__ = ("session_id", "public_key", "signature", "reject")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    public_key: str
    signature: str
    reject: bool
    def __init__(self, session_id: _Optional[str] = ..., public_key: _Optional[str] = ..., signature: _Optional[str] = ..., reject: _Optional[bool] = ...) -> None: ...

class ApprovalAccepted(_message.Message):
    __slots__ = ("session_id", "approver", "decision")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    approver: str
    decision: str
    def __init__(self, session_id: _Optional[str] = ..., approver: _Optional[str] = ..., decision: _Optional[str] = ...) -> None: ...

class ListAuditLogsRequest(_message.Message):
    __slots__ = ("action", "resource_id", "session_id", "limit", "offset")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    action: str
    resource_id: str
    session_id: str
    limit: int
    offset: int
    def __init__(self, action: _Optional[str] = ..., resource_id: _Optional[str] = ..., session_id: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class AuditLogEntry(_message.Message):
    __slots__ = ("id", "timestamp", "actor", "action", "resource_type", "resource_id", "session_id", "status", "details")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    id: int
    timestamp: _timestamp_pb2.Timestamp
    actor: str
    action: str
    resource_type: str
    resource_id: str
    session_id: str
    status: str
    details: _struct_pb2.Struct
    def __init__(self, id: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., resource_type: _Optional[str] = ..., resource_id: _Optional[str] = ..., session_id: _Optional[str] = ..., status: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AuditLogList(_message.Message):
    __slots__ = ("entries", "total")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditLogEntry]
    total: int
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditLogEntry, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class ListBackupsRequest(_message.Message):
    __slots__ = ("status", "limit", "offset")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    status: str
    limit: int
    offset: int
    def __init__(self, status: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class GetBackupRequest(_message.Message):
    __slots__ = ("backup_id",)
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    def __init__(self, backup_id: _Optional[str] = ...) -> None: ...

class RunBackupRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Backup(_message.Message):
    __slots__ = ("backup_id", "status", "session_id", "workflow_id", "path", "size_bytes", "file_count", "duration_ms", "requested_by", "signed_by", "error", "created_at", "completed_at", "manifest")
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    status: str
    session_id: str
    workflow_id: str
    path: str
    size_bytes: int
    file_count: int
    duration_ms: int
    requested_by: str
    signed_by: str
    error: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    manifest: _struct_pb2.Struct
    def __init__(self, backup_id: _Optional[str] = ..., status: _Optional[str] = ..., session_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., file_count: _Optional[int] = ..., duration_ms: _Optional[int] = ..., requested_by: _Optional[str] = ..., signed_by: _Optional[str] = ..., error: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., manifest: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class BackupList(_message.Message):
    __slots__ = ("backups", "total")
    BACKUPS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    backups: _containers.RepeatedCompositeFieldContainer[Backup]
    total: int
    def __init__(self, backups: _Optional[_Iterable[_Union[Backup, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class BackupStarted(_message.Message):
    __slots__ = ("backup_id", "session_id", "status")
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    session_id: str
    status: str
    def __init__(self, backup_id: _Optional[str] = ..., session_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("node_id", "node_type", "endpoint", "status", "admission", "signing_public_key", "encryption_public_key", "capabilities", "version", "metrics_url", "registered_at", "last_heartbeat", "seconds_since_heartbeat", "pool_levels")
    class PoolLevelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ADMISSION_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METRICS_URL_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_SINCE_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    POOL_LEVELS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_type: str
    endpoint: str
    status: str
    admission: str
    signing_public_key: str
    encryption_public_key: str
    capabilities: _struct_pb2.Struct
    version: str
    metrics_url: str
    registered_at: _timestamp_pb2.Timestamp
    last_heartbeat: _timestamp_pb2.Timestamp
    seconds_since_heartbeat: float
    pool_levels: _containers.ScalarMap[str, int]
    def __init__(self, node_id: _Optional[str] = ..., node_type: _Optional[str] = ..., endpoint: _Optional[str] = ..., status: _Optional[str] = ..., admission: _Optional[str] = ..., signing_public_key: _Optional[str] = ..., encryption_public_key: _Optional[str] = ..., capabilities: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., version: _Optional[str] = ..., metrics_url: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seconds_since_heartbeat: _Optional[float] = ..., pool_levels: _Optional[_Mapping[str, int]] = ...) -> None: ...

class NodeList(_message.Message):
    __slots__ = ("nodes", "online", "total")
    NODES_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    online: int
    total: int
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., online: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class RemoveNodeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NonceEpoch(_message.Message):
    __slots__ = ("node_id", "counter", "token")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    counter: int
    token: str
    def __init__(self, node_id: _Optional[str] = ..., counter: _Optional[int] = ..., token: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("token_id", "name", "role", "node_id", "created_at", "expires_at", "revoked_at")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    role: str
    node_id: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., node_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TokenList(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ...) -> None: ...
