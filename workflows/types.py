"""Inputs and outputs of workflows and activities: dataclasses of public data only.

Secrets never appear here (DESIGN.md rule 1): a point-to-point protocol message travels as
`WireMessage.body`, an envelope sealed by the sender to the recipient's X25519 key and signed by
the sender's Ed25519 key; broadcasts are signed too. Workflows route by `sender`/`recipient` and
never open a body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BROADCAST = "*"


@dataclass
class IntentApproval:
    public_key: str  # the approver's Ed25519 key, 64 hex characters
    signature: str  # over the intent bytes, 128 hex characters


@dataclass
class SessionIntent:
    """A signed intent as it travels with a session (mpc.intents.SignedIntent is the node's view)."""

    intent: str  # the canonical intent bytes, hex
    api_signature: str
    approvals: list[IntentApproval] = field(default_factory=list)


@dataclass
class Party:
    """One participant of a session, as pinned at registration."""

    node_id: str
    party_id: int  # protocol index (1-based), fixed at keygen (SECURITY.md I2)
    signing_public_key: str
    encryption_public_key: str

    def roster_entry(self) -> dict[str, Any]:
        """The form an intent and a pinned share name a holder in."""
        return {"party_id": self.party_id, "node_id": self.node_id, "ed25519": self.signing_public_key,
                "x25519": self.encryption_public_key}


def roster_of(parties: list[Party]) -> list[dict[str, Any]]:
    """A session's roster in canonical form (sorted by party id), as intents and pinned shares hold it."""
    return [p.roster_entry() for p in sorted(parties, key=lambda p: p.party_id)]


@dataclass
class WireMessage:
    """A signed (and, point-to-point, encrypted) envelope on its way between nodes."""

    sender: str
    recipient: str  # a node id, or BROADCAST
    round: int
    body: str  # the sealed envelope, serialised; opaque to the coordinator


@dataclass
class RoundPolicy:
    """Timeouts and retries for protocol rounds (from settings, fixed at workflow start)."""

    round_timeout_seconds: float = 30.0
    max_attempts: int = 3
    session_timeout_seconds: float = 300.0


@dataclass
class ReshareParams:
    dealers: list[int]  # old holders' party ids that deal sub-shares
    new_participants: list[int]
    new_threshold: int


@dataclass
class ProtocolParams:
    """A session's parameters (typed, one shape for every protocol of mpc/protocols.py): each is bound
    into the session id, and a node checks each against the session's intent."""

    key_id: str
    curve: str
    epoch: int = 0
    threshold: int = 0  # keygen: t; ECDSA signing: the number of signers
    digest: str | None = None  # signing: the 32-byte digest, hex
    presig_id: str | None = None  # GG20 online signing: the presignature made earlier in the session
    reshare: ReshareParams | None = None
    derivation_path: str | None = None  # signing: a BIP-32 child (non-hardened), applied on each node (tss/hd.py)
    batch_index: int | None = None  # ECDSA batch: this run signs the intent's digest at this index (one run each)

    def session_threshold(self) -> int:
        return self.reshare.new_threshold if self.reshare is not None else self.threshold


@dataclass
class ProtocolRoundInput:
    session_id: str
    workflow_id: str
    protocol: str  # a SessionProtocol of mpc/protocols.py
    round: int
    total_rounds: int
    parties: list[Party]
    params: ProtocolParams
    inbound: list[WireMessage] = field(default_factory=list)
    intent: SessionIntent | None = None  # what authorises the session; every node checks it (activities/authorisation)
    hello: list[WireMessage] = field(default_factory=list)  # round 1: every party's signed ssid contribution


@dataclass
class ProtocolRoundOutput:
    node_id: str
    outbound: list[WireMessage] = field(default_factory=list)
    public_result: dict[str, Any] | None = None


@dataclass
class SessionFailure:
    """Why a session failed, for the API and the audit log (never secret)."""

    code: str
    message: str
    node: str | None = None  # the node at fault: only a proven protocol violation names one (SECURITY.md A5)
    nodes: list[str] = field(default_factory=list)
    reported_by: str | None = None  # whose activity failed; names no culprit (None in older histories)


@dataclass
class Progress:
    """What the progress query returns."""

    session_id: str
    operation: str
    status: str
    current_round: int
    total_rounds: int
    error: SessionFailure | None = None


# ---- coordinator activities (metadata database) -------------------------------------------


@dataclass
class SessionUpdate:
    session_id: str
    status: str | None = None  # pending, running, completed, failed
    current_round: int | None = None
    total_rounds: int | None = None
    signature: str | None = None
    error: SessionFailure | None = None
    finished: bool = False  # sets completed_at and duration_ms
    signatures: list[str] | None = None  # a batch session: one signature per digest, in request order
    started: bool = False  # sets started_at
    participants: list[str] | None = None  # the signers that made the signature (after a replacement)


@dataclass
class RecordKeyInput:
    session_id: str
    key_id: str
    public_result: dict[str, Any]


@dataclass
class KeyRecord:
    key_id: str
    public_key: str
    address: str | None


@dataclass
class AuditInput:
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    session_id: str | None = None
    status: str = "success"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoreCommitmentsInput:
    key_id: str
    node_id: str
    commitments: list[WireMessage]


@dataclass
class ClaimCommitmentsInput:
    key_id: str
    session_id: str
    node_ids: list[str]
    count: int = 1  # commitments per signer (a batch: one per digest); all of them or none


@dataclass
class ClaimCommitmentsResult:
    """Digest-major: for each of the `count` digests, one commitment per signer in `node_ids` order."""

    commitments: list[WireMessage] = field(default_factory=list)  # empty: the pool cannot serve every signer
    remaining: int = -1  # the fewest unclaimed commitments a signer has left after this claim (-1: not known)


@dataclass
class SignBeginInput:
    """A FROST sign's start in one transaction: the session row running, its pool claim (when `use_pool`)."""

    session_id: str
    claim: ClaimCommitmentsInput
    use_pool: bool = True
    item_sessions: list[str] = field(default_factory=list)  # coalesced requests: every one of them is running


@dataclass
class PoolLevelsInput:
    key_id: str
    node_ids: list[str]


@dataclass
class FinishKeyInput:
    key_id: str
    status: str  # "failed" or "compromised"
    failure: SessionFailure | None = None


# ---- FROST signing activities ----


@dataclass
class PreprocessRequest:
    request_id: str
    key_id: str
    count: int


@dataclass
class PreprocessResult:
    node_id: str
    commitments: list[WireMessage] = field(default_factory=list)


@dataclass
class FrostSignRequest:
    session_id: str
    key_id: str
    digest: str  # hex of the message to sign (32-byte digest)
    signers: list[Party]
    commitments: list[WireMessage]  # one signed commitment per signer
    taproot_tweak: bool = False  # Bitcoin key-path spend: sign under the BIP-341 tweaked output key
    taproot_merkle_root: str | None = None
    intent: SessionIntent | None = None
    derivation_path: str | None = None  # a BIP-32 child: the node tweaks its share from its pinned chain code


@dataclass
class SignItem:
    """One digest of a batch and its commitment list: one signed commitment (one nonce) per signer."""

    digest: str  # hex, 32 bytes
    commitments: list[WireMessage]
    # A transaction batch (a PSBT's inputs): this item's own script-tree root and BIP-32 child; a raw batch
    # leaves both None (its one root is the request's `taproot_merkle_root`; it signs with the key itself).
    taproot_merkle_root: str | None = None
    derivation_path: str | None = None


@dataclass
class FrostBatchSignRequest:
    """A batch: every item is signed with its own nonce, all under one intent naming every digest in order."""

    session_id: str
    key_id: str
    signers: list[Party]
    items: list[SignItem]
    taproot_tweak: bool = False
    taproot_merkle_root: str | None = None
    intent: SessionIntent | None = None


@dataclass
class FrostBatchShares:
    node_id: str
    shares: list[WireMessage]  # one signed share envelope per item, in item order


@dataclass
class AggregateBatchInput:
    session_id: str
    key_id: str
    signers: list[Party]
    items: list[SignItem]
    shares: list[list[WireMessage]]  # per item, one share per signer in `signers` order
    taproot_tweak: bool = False
    taproot_merkle_root: str | None = None


@dataclass
class SignFinishInput:
    """Aggregate and verify (`single` or `batch`), then the completed session and its audit entry in one
    transaction: the session reads completed as soon as its signature is verified."""

    session_id: str
    actor: str
    signers: list[str]
    used_pool: bool
    single: AggregateInput | None = None
    batch: AggregateBatchInput | None = None
    refill: PoolRefillRequest | None = None  # the claim left the pool low: the finishing step starts a refill
    item_sessions: list[str] = field(default_factory=list)  # coalesced requests: one session per digest


    # It finishes its session as a finishing SessionUpdate does: the worker's metrics interceptor counts it so.
    status = "completed"
    finished = True
    error = None


@dataclass
class SignFinishResult:
    signature: str = ""
    signatures: list[str] = field(default_factory=list)


@dataclass
class AggregateInput:
    session_id: str
    key_id: str
    digest: str
    signers: list[Party]
    commitments: list[WireMessage]
    shares: list[WireMessage]
    taproot_tweak: bool = False  # as the signers' FrostSignRequest: shares are checked under the same tweak
    taproot_merkle_root: str | None = None
    derivation_path: str | None = None  # as the signers': shares are checked against the child's package


# ---- workflows ---------------------------------------------------------------------------


@dataclass
class KeygenRequest:
    session_id: str
    key_id: str
    protocol: str  # "frost"
    curve: str  # "ed25519" | "secp256k1" | "secp256k1-tr"
    chain_type: str
    threshold: int
    parties: list[Party]
    policy: RoundPolicy = field(default_factory=RoundPolicy)
    requested_by: str = "api"
    pool_target: int = 0  # nonce commitments per node to preprocess after keygen (0: none)
    intent: SessionIntent | None = None  # the API-signed keygen intent: roster, threshold, policy
    presign_pool_target: int = 0  # GG20: presignatures to make for the first t parties after keygen (0: none)


@dataclass
class KeygenResult:
    key_id: str
    public_key: str
    address: str | None


@dataclass
class SignRequest:
    session_id: str
    key_id: str
    protocol: str
    curve: str
    chain_type: str
    digest: str  # 32-byte message digest, hex
    signers: list[Party]
    alternates: list[Party] = field(default_factory=list)  # online non-signers, used if a signer fails
    use_pool: bool = True
    pool_target: int = 0  # refill each signer's pool to this many commitments afterwards (0: no refill)
    policy: RoundPolicy = field(default_factory=RoundPolicy)
    requested_by: str = "api"
    taproot_merkle_root: str | None = None
    intent: SessionIntent | None = None  # the signed sign intent (digest, signers and alternates)
    approvals_needed: int = 0  # the key's policy quorum for sign: wait in awaiting_approval for so many
    approval_timeout_seconds: float = 3600.0
    derivation_path: str | None = None  # sign with the BIP-32 child at this path (the intent names it)
    digests: list[str] = field(default_factory=list)  # a batch: every digest, in request order; `digest` is ""
    # A transaction batch (a PSBT's inputs): per digest its Taproot merkle root and BIP-32 child, aligned with
    # `digests` (empty: `taproot_merkle_root` for every digest, the key itself signs).
    taproot_merkle_roots: list[str | None] = field(default_factory=list)
    derivation_paths: list[str | None] = field(default_factory=list)
    presign_pool_target: int = 0  # GG20: sign from the signer set's presignature pool, keep it this full (0: off)
    # Coalesced requests (api/coalesce.py): one session per digest, aligned with `digests`; `session_id` is the
    # first. Each session starts, completes or fails with the batch, and completes with its own signature.
    item_sessions: list[str] = field(default_factory=list)
    # The first attempt's pool claim, made by the API in the transaction that recorded the session (it set the
    # row running): the workflow starts with its share round, without a begin step. Only when it claimed some.
    claimed: ClaimCommitmentsResult | None = None
    claimed_presignature: ClaimPresignatureResult | None = None
    claimed_presignatures: Gg20BatchClaim | None = None  # a GG20 batch: per digest, aligned with `digests`

    def attempt_id(self, attempt: int) -> str:
        """The id of this session's `attempt`-th try (1 first; a replaced signer makes another)."""
        return f"{self.session_id}.{attempt}"

    def first_attempt(self, attempt_id: str) -> bool:
        return attempt_id == self.attempt_id(1)

    def sessions(self) -> list[str]:
        """Every session row this workflow moves: its coalesced requests, or its one session."""
        return list(self.item_sessions) or [self.session_id]

    def item_root(self, index: int) -> str | None:
        return self.taproot_merkle_roots[index] if self.taproot_merkle_roots else None

    def item_path(self, index: int) -> str | None:
        return self.derivation_paths[index] if self.derivation_paths else None

    def presign_pool(self) -> bool:
        """GG20 signs from a presignature pool when the API keeps one (histories before it: target 0)."""
        return self.protocol == "gg20" and self.use_pool and self.presign_pool_target > 0

    def pooled_gg20_digest(self) -> bool:
        """One GG20 digest of the key itself, from the pool: the online round alone."""
        return self.presign_pool() and not self.digests and self.derivation_path is None

    def pooled_gg20_batch(self) -> bool:
        """A GG20 batch of the key's own digests, from the pool: one presignature per digest, one online round."""
        return self.presign_pool() and bool(self.digests) and not any(self.derivation_paths)


@dataclass
class ApprovalSignal:
    """An approver's decision, relayed by the API after it checked the signature (nodes check again)."""

    public_key: str
    signature: str
    reject: bool = False


@dataclass
class ApprovalState:
    """What the `approval_state` query returns: the bytes to sign and who approved so far."""

    intent: str
    needed: int
    approvals: list[IntentApproval] = field(default_factory=list)
    rejected_by: str | None = None


@dataclass
class SignResult:
    session_id: str
    signature: str  # "" for a batch
    signers: list[str]
    used_pool: bool
    signatures: list[str] = field(default_factory=list)  # a batch: one per digest, in request order


@dataclass
class PoolRefillRequest:
    key_id: str
    parties: list[Party]
    target: int
    policy: RoundPolicy = field(default_factory=RoundPolicy)


@dataclass
class PoolRefillResult:
    added: dict[str, int] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)


# ---- GG20 presignature pool (workflows/presign_pool.py, activities/presign_pool.py) ------------------


@dataclass
class PresignRefillRequest:
    """Keep `target` presignatures ready for exactly this signer set of a GG20 key."""

    key_id: str
    curve: str
    signers: list[Party]
    target: int
    policy: RoundPolicy = field(default_factory=RoundPolicy)


@dataclass
class PresignRefillResult:
    added: int = 0
    failure: SessionFailure | None = None  # why the refill stopped short (an offline signer, say)


@dataclass
class PresignPoolInput:
    """A pool is one key, one epoch and one signer set (node ids, sorted)."""

    key_id: str
    node_ids: list[str]


@dataclass
class PresignPoolStatus:
    """A pool's level, and how many seconds ago a signature last claimed from it (None: not recently)."""

    level: int
    last_claim_age: float | None = None


@dataclass
class StorePresignatureInput:
    key_id: str
    node_ids: list[str]
    presig_id: str  # 32 bytes hex, the same at every signer
    big_r: str  # R, compressed hex (public)
    epoch: int  # the key epoch the presignature was made at (a node refuses it at any other)
    shares_public: dict[str, Any] = field(default_factory=dict)  # {"R", "Rbar": {pid: hex}, "S": {pid: hex}}


@dataclass
class ClaimPresignatureInput:
    key_id: str
    node_ids: list[str]
    session_id: str  # the claiming attempt: claiming again with it returns the same presignature


@dataclass
class ClaimPresignatureResult:
    presig_id: str | None = None  # None: the pool is empty for this signer set (presign in the session)
    remaining: int = 0  # unclaimed presignatures left for this signer set after the claim


@dataclass
class Gg20SignBeginInput:
    """A GG20 sign's start in one transaction: the session row running and a pooled presignature claimed
    (one round when there was one, else `rounds_without_pool`: presign and sign in the session)."""

    session_id: str
    claim: ClaimPresignatureInput
    rounds_without_pool: int


@dataclass
class Gg20SignFinishInput:
    """The online round's shares combined and verified, then the completed session and its audit entry in
    one transaction; `refill`: the claim left the pool low, so the finishing step starts a refill."""

    session_id: str
    combine: Gg20CombineInput
    actor: str
    refill: PresignRefillRequest | None = None


@dataclass
class Gg20BatchClaim:
    """Pooled presignatures for the digests of a GG20 batch, aligned with the claim ids ("" where the pool
    had none left: that digest presigns in the session), and what is left for the signer set."""

    presig_ids: list[str] = field(default_factory=list)
    remaining: int = 0

    def count(self) -> int:
        return sum(1 for presig_id in self.presig_ids if presig_id)

    def total_rounds(self, rounds_without_pool: int) -> int:
        """One online round for the pooled digests, a full presign-and-sign run for each other one."""
        return int(self.count() > 0) + (len(self.presig_ids) - self.count()) * rounds_without_pool


@dataclass
class Gg20SignBatchBeginInput:
    """A GG20 batch's start in one transaction: its sessions running and one presignature claimed per digest
    (claim id `<attempt>.<index>`, as a digest signed on its own claims), as many as the pool holds."""

    session_id: str
    key_id: str
    node_ids: list[str]
    claim_ids: list[str]
    rounds_without_pool: int  # a digest the pool cannot serve: presign and sign in the session
    item_sessions: list[str] = field(default_factory=list)


@dataclass
class Gg20OnlineItem:
    index: int  # the digest's position in the batch (and in the intent's digest list)
    digest: str
    presig_id: str


@dataclass
class Gg20OnlineBatchRequest:
    """The online round of several pooled GG20 signatures of one batch: one activity per signer."""

    session_id: str  # the attempt; item i answers for session `<session_id>.<index>`
    key_id: str
    items: list[Gg20OnlineItem]
    signers: list[Party]
    intent: SessionIntent | None = None


@dataclass
class Gg20OnlineBatchShares:
    node_id: str
    shares: list[WireMessage]  # one signed s_i per item, in item order


@dataclass
class Gg20SignBatchFinishInput:
    """A GG20 batch's end: the pooled digests' shares combined and verified, with the signatures the session
    made itself (`made`, by index), then every session completed with its audit entry in one transaction."""

    session_id: str
    key_id: str
    actor: str
    signers: list[str]
    digests: list[str]
    combines: list[Gg20CombineInput]  # one per pooled digest; its session id is `<attempt>.<index>`
    made: dict[str, str] = field(default_factory=dict)  # index (decimal) -> signature, digests signed in session
    item_sessions: list[str] = field(default_factory=list)
    refill: PresignRefillRequest | None = None


@dataclass
class Gg20OnlineSignRequest:
    """The one online round of a GG20 signature from a pooled presignature (activities/gg20_online.py)."""

    session_id: str
    key_id: str
    digest: str  # 32 bytes hex
    presig_id: str
    signers: list[Party]
    intent: SessionIntent | None = None
    batch_index: int | None = None  # one digest of an ECDSA batch: the intent's digest at this index


@dataclass
class Gg20CombineInput:
    """Each signer's signed s_i for one pooled presignature: combined and verified on the coordinator."""

    session_id: str
    key_id: str
    digest: str
    presig_id: str
    signers: list[Party]
    shares: list[WireMessage]


# ---- key lifecycle (disable / enable, enforced on every node) ------------------------------------


@dataclass
class KeyStateCall:
    """To one holder: disable or enable its share for signing, under a signed intent."""

    session_id: str
    key_id: str
    enabled: bool
    intent: SessionIntent | None = None


@dataclass
class KeyStateResult:
    node_id: str
    enabled: bool


@dataclass
class KeyStateRequest:
    session_id: str
    key_id: str
    enabled: bool
    parties: list[Party]
    intent: SessionIntent | None = None
    policy: RoundPolicy = field(default_factory=RoundPolicy)
    requested_by: str = "api"
    approvals_needed: int = 0  # the key policy's `disable` quorum (enable and archive count the same)
    approval_timeout_seconds: float = 3600.0
    archive: bool = False  # erase every share epoch on every holder (the key's metadata stays, `archived`)

    @property
    def operation(self) -> str:
        return "archive" if self.archive else "enable" if self.enabled else "disable"


# ---- refresh and reshare (two phases: new shares inactive until ACKed and test-signed) ----------


@dataclass
class ReshareRequest:
    session_id: str
    key_id: str
    operation: str  # "refresh" | "reshare": the intent operation, also the audit action
    protocol: str  # the session protocol of mpc/protocols.py (frost-refresh, gg20-reshare, ...)
    key_protocol: str  # the key's protocol (frost, gg18, gg20): how the test signature is made
    curve: str
    epoch: int  # the epoch being replaced; the new shares get epoch + 1
    dealers: list[Party]  # old holders that deal sub-shares (refresh: every holder)
    new_parties: list[Party]  # the new committee; a node in both keeps its party id
    new_threshold: int
    old_holders: list[Party]  # every holder of the old epoch: each erases it after the commit
    intent: SessionIntent | None = None
    policy: RoundPolicy = field(default_factory=RoundPolicy)
    requested_by: str = "api"
    reason: str | None = None
    pool_target: int = 0
    approvals_needed: int = 0  # the key policy's `reshare` quorum (refresh counts the same)
    approval_timeout_seconds: float = 3600.0


@dataclass
class ReshareAck:
    """A new holder's signed confirmation that it stored its share of the new epoch (SECURITY.md R3)."""

    node_id: str
    ack_digest: str  # H(ssid || new public shares || Y), hex: the same at every party
    signature: str  # Ed25519 over RESHARE_ACK_TAG || key id || epoch || digest, hex


@dataclass
class ReshareStep:
    """Input of the phase-two activities on a node (ACK, test signature, activation, erasure)."""

    session_id: str
    key_id: str
    epoch: int  # the new epoch
    ack_digest: str
    acks: list[ReshareAck] = field(default_factory=list)
    signers: list[Party] = field(default_factory=list)  # the test signature's signers (t' new holders)
    commitments: list[WireMessage] = field(default_factory=list)
    shares: list[WireMessage] = field(default_factory=list)
    test_signature: str = ""  # erasure: the verified test signature, checked again by each old holder
    intent: SessionIntent | None = None  # erasure: the reshare intent, checked against the old pinned policy


@dataclass
class ReshareNodeResult:
    node_id: str
    done: bool
    detail: str = ""  # e.g. the test signature (activation) or what was erased


@dataclass
class RecordEpochInput:
    session_id: str
    key_id: str
    epoch: int
    package: dict[str, Any]
    holders: list[str]  # node ids in party-id order
    party_ids: dict[str, int]
    roster: list[dict[str, Any]]  # the new holders as intents name them (party id, node, identity keys)
    threshold: int
    reason: str


@dataclass
class ReshareResult:
    session_id: str
    key_id: str
    epoch: int
    holders: list[str]
    threshold: int
    test_signature: str
    erasure_pending: list[str] = field(default_factory=list)  # old holders not reached: the catch-up asks again
    activation_pending: list[str] = field(default_factory=list)  # new holders not reached: the catch-up asks again


@dataclass
class ReshareCatchUpRequest:
    """The nodes a decided change could not reach (workflows/reshare_catchup.py)."""

    operation: str  # "refresh" | "reshare": names the audit action
    step: ReshareStep  # with the test signature and intent: what each node checks again itself
    activate: list[str]  # new holders that did not activate
    retire: list[str]  # old holders that did not erase the old epoch
    round_timeout_seconds: float
    requested_by: str = "api"


@dataclass
class ReshareCatchUpResult:
    caught_up: list[str]
    refused: list[str]  # a node refused (e.g. a later change replaced the epoch first): see the audit row


@dataclass
class ScheduledRefreshRequest:
    """What a key's refresh Schedule starts with: the key (the API checks everything else when it runs)."""

    key_id: str
