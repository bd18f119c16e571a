"""One registry of the session protocols (DESIGN.md "Protocols in one registry").

Pure data, safe inside the Temporal workflow sandbox (no crypto, no I/O): what each session protocol
is called, which family's adapter runs it on a participant, which intent operation authorises it,
how many rounds it has after the hello, and which session protocols a key protocol (the API's
`frost`, `gg18`, `gg20`) runs for keygen and for signing. Workflows, participants, the API and the
tests read it from here; `tests/workflows/test_protocol_rounds.py` checks it against `tss`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    FROST = "frost"
    ECDSA = "ecdsa"


class Stage(StrEnum):
    """What a session does with the key; the intent operation that authorises it has the same name."""

    KEYGEN = "keygen"
    SIGN = "sign"
    REFRESH = "refresh"
    RESHARE = "reshare"
    RECOVER = "recover"  # a recovery from escrow turning staged shares into key shares (GG18/GG20)


class SessionProtocol(StrEnum):
    FROST_DKG = "frost-dkg"
    FROST_REFRESH = "frost-refresh"
    FROST_RESHARE = "frost-reshare"
    GG20_KEYGEN = "gg20-keygen"
    GG18_SIGN = "gg18-sign"
    GG20_PRESIGN = "gg20-presign"
    GG20_SIGN = "gg20-sign"
    GG20_REFRESH = "gg20-refresh"
    GG20_RESHARE = "gg20-reshare"
    GG20_RECOVER = "gg20-recover"


class SessionStatus(StrEnum):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Activity(StrEnum):
    """Activity names, as registered by the workers and scheduled by the workflows."""

    HELLO = "participant.session_hello"
    ROUND = "participant.protocol_round"
    FROST_PREPROCESS = "participant.frost_preprocess"
    GG20_SIGN_ONLINE = "participant.gg20_sign_online"
    GG20_SIGN_ONLINE_BATCH = "participant.gg20_sign_online_batch"
    FROST_SIGN = "participant.frost_sign"
    FROST_SIGN_BATCH = "participant.frost_sign_batch"
    PING = "participant.ping"
    SET_KEY_STATE = "participant.set_key_state"
    ARCHIVE_KEY = "participant.archive_key"
    RESHARE_ACK = "participant.reshare_ack"
    RESHARE_TEST_COMMIT = "participant.reshare_test_commit"
    RESHARE_TEST_SIGN = "participant.reshare_test_sign"
    RESHARE_ACTIVATE = "participant.reshare_activate"
    RESHARE_RETIRE = "participant.reshare_retire"
    RECOVER_IMPORT = "participant.recover_import"
    UPDATE_SESSION = "coordinator.update_session"
    RECORD_KEY = "coordinator.record_key"
    FINISH_KEY = "coordinator.finish_key"
    AUDIT = "coordinator.audit"
    STORE_COMMITMENTS = "coordinator.store_commitments"
    CLAIM_COMMITMENTS = "coordinator.claim_commitments"
    POOL_LEVELS = "coordinator.pool_levels"
    STORE_PRESIGNATURE = "coordinator.store_presignature"
    CLAIM_PRESIGNATURE = "coordinator.claim_presignature"
    PRESIGN_LEVEL = "coordinator.presign_level"
    PRESIGN_POOL_STATUS = "coordinator.presign_pool_status"
    GG20_COMBINE = "coordinator.gg20_combine"
    GG20_SIGN_BEGIN = "coordinator.gg20_sign_begin"
    GG20_SIGN_FINISH = "coordinator.gg20_sign_finish"
    GG20_SIGN_BATCH_BEGIN = "coordinator.gg20_sign_batch_begin"
    GG20_SIGN_BATCH_FINISH = "coordinator.gg20_sign_batch_finish"
    FROST_AGGREGATE = "coordinator.frost_aggregate"
    FROST_AGGREGATE_BATCH = "coordinator.frost_aggregate_batch"
    FROST_SIGN_BEGIN = "coordinator.frost_sign_begin"
    FROST_SIGN_FINISH = "coordinator.frost_sign_finish"
    RECORD_EPOCH = "coordinator.record_epoch"
    START_SCHEDULED_REFRESH = "api.start_scheduled_refresh"
    # Backups (workflows/backup.py): steps on the coordinator, on each participant, and in the API process.
    BACKUP_BEGIN = "coordinator.backup_begin"
    BACKUP_DUMP_DATABASE = "coordinator.backup_dump_database"
    BACKUP_WRITE_FILES = "coordinator.backup_write_files"
    BACKUP_SEAL_MANIFEST = "coordinator.backup_seal_manifest"
    BACKUP_FINISH = "coordinator.backup_finish"
    BACKUP_FAIL = "coordinator.backup_fail"
    BACKUP_COLLECT_META = "participant.backup_collect_meta"
    BACKUP_ESCROW_SHARE = "participant.backup_escrow_share"
    BACKUP_EXPORT_INTENTS = "api.backup_export_intents"
    BACKUP_SIGN_MANIFEST = "api.backup_sign_manifest"


@dataclass(frozen=True)
class ProtocolSpec:
    name: SessionProtocol
    family: Family
    stage: Stage
    rounds: int  # after the hello (round 0)
    compute_bound: bool = False  # seconds of Paillier arithmetic per round: run off the event loop
    stores_share: bool = False  # the last round seals a new share
    timeout_scale: float = 1.0  # ROUND_TIMEOUT multiple (workflows/rounds.py): rounds that verify Paillier proofs


SPECS: dict[str, ProtocolSpec] = {spec.name.value: spec for spec in (
    ProtocolSpec(SessionProtocol.FROST_DKG, Family.FROST, Stage.KEYGEN, 3, stores_share=True),
    ProtocolSpec(SessionProtocol.FROST_REFRESH, Family.FROST, Stage.REFRESH, 3, stores_share=True),
    ProtocolSpec(SessionProtocol.FROST_RESHARE, Family.FROST, Stage.RESHARE, 3, stores_share=True),
    # Keygen checks Π^mod, Π^prm and Π^fac of every other party; refresh and reshare of every other new member.
    ProtocolSpec(SessionProtocol.GG20_KEYGEN, Family.ECDSA, Stage.KEYGEN, 4, compute_bound=True, stores_share=True,
                 timeout_scale=2.0),
    ProtocolSpec(SessionProtocol.GG18_SIGN, Family.ECDSA, Stage.SIGN, 11, compute_bound=True),
    ProtocolSpec(SessionProtocol.GG20_PRESIGN, Family.ECDSA, Stage.SIGN, 7, compute_bound=True),
    ProtocolSpec(SessionProtocol.GG20_SIGN, Family.ECDSA, Stage.SIGN, 2, compute_bound=True),
    # One tss protocol (tss.ecdsa.reshare) for both: a refresh is a reshare to the same committee and threshold.
    ProtocolSpec(SessionProtocol.GG20_REFRESH, Family.ECDSA, Stage.REFRESH, 5, compute_bound=True, stores_share=True,
                 timeout_scale=4.0),
    ProtocolSpec(SessionProtocol.GG20_RESHARE, Family.ECDSA, Stage.RESHARE, 5, compute_bound=True, stores_share=True,
                 timeout_scale=4.0),
    # The same tss protocol again, its dealers dealing from the plain shares a recovery from escrow staged
    # (tss.ecdsa.staging), authorised by the `recover` intent the node imported them under.
    ProtocolSpec(SessionProtocol.GG20_RECOVER, Family.ECDSA, Stage.RECOVER, 5, compute_bound=True, stores_share=True,
                 timeout_scale=4.0),
)}


@dataclass(frozen=True)
class KeyProtocol:
    """What the API's `protocol` of a key runs. FROST signs with its own two activities (a pooled
    commitment round and the share round), not through the round driver, so `sign` is empty."""

    name: str
    family: Family
    keygen: SessionProtocol
    sign: tuple[SessionProtocol, ...] = ()
    refresh: SessionProtocol | None = None  # None: the family has no refresh workflow yet
    reshare: SessionProtocol | None = None
    recover: SessionProtocol | None = None
    """After a recovery from escrow: the session that turns the staged shares into key shares (None: the dealt
    shares are the key shares already, as for FROST)."""


KEY_PROTOCOLS: dict[str, KeyProtocol] = {k.name: k for k in (
    KeyProtocol("frost", Family.FROST, SessionProtocol.FROST_DKG, refresh=SessionProtocol.FROST_REFRESH,
                reshare=SessionProtocol.FROST_RESHARE),
    KeyProtocol("gg18", Family.ECDSA, SessionProtocol.GG20_KEYGEN, (SessionProtocol.GG18_SIGN,),
                refresh=SessionProtocol.GG20_REFRESH, reshare=SessionProtocol.GG20_RESHARE,
                recover=SessionProtocol.GG20_RECOVER),
    KeyProtocol("gg20", Family.ECDSA, SessionProtocol.GG20_KEYGEN,
                (SessionProtocol.GG20_PRESIGN, SessionProtocol.GG20_SIGN),
                refresh=SessionProtocol.GG20_REFRESH, reshare=SessionProtocol.GG20_RESHARE,
                recover=SessionProtocol.GG20_RECOVER),
)}
"""GG18 and GG20 keys share one keygen and one share format; GG20 signs as presign then online sign."""


def spec_of(name: str) -> ProtocolSpec | None:
    return SPECS.get(name)


def key_protocol_of(session_protocol: str) -> KeyProtocol | None:
    """The key protocol whose signing runs `session_protocol` (None for keygen and FROST protocols)."""
    return next((k for k in KEY_PROTOCOLS.values() if session_protocol in k.sign), None)


def sign_rounds(key_protocol: str) -> int:
    return sum(SPECS[p].rounds for p in KEY_PROTOCOLS[key_protocol].sign)
