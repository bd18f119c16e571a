"""What a participant's activities share: its identity, keystores, and the helpers that turn
relayed wire messages into verified protocol messages and back.

Every inbound envelope is checked before `tss` sees it (SECURITY.md S2, I2): signature by the
sender's pinned identity key, session id, protocol, round, recipient. Every outbound message is
signed; point-to-point payloads are encrypted to the recipient's X25519 key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from temporalio.exceptions import ApplicationError

from mpc.envelope import BROADCAST as ENVELOPE_BROADCAST
from mpc.envelope import Envelope, EnvelopeError, InboxGuard, seal
from mpc.identity import NodeIdentity, NodePublic
from mpc.keystore import KeystoreError, SecretStateStore, ShareStore, VaultSealedError, VaultUnavailableError
from tss.errors import ProtocolError
from tss.messages import BROADCAST as TSS_BROADCAST
from tss.messages import RoundMessage
from tss.protocol import RoundOutput, RoundProtocol
from workflows.driver import DEPENDENCY_UNAVAILABLE, INVALID_REQUEST, PROTOCOL_VIOLATION
from workflows.types import BROADCAST, Party, WireMessage

if TYPE_CHECKING:
    from activities.authorisation import IntentGate


class BackgroundRounds(Protocol):
    """Runs a round of work no request waits on (workers/background_rounds.py: a niced process)."""

    def run_round(self, rebuild: Callable[[], RoundProtocol], round_no: int, state: bytes,
                  inbound: Sequence[RoundMessage]) -> RoundOutput:
        ...


@dataclass
class NodeServices:
    node_id: str
    identity: NodeIdentity
    shares: ShareStore
    state: SecretStateStore
    intents: IntentGate
    background_rounds: BackgroundRounds | None = None
    """None: every round runs in the node's process (tests, and PRESIGN_REFILL_NICENESS=0)."""


class Roster:
    """The session's parties, keyed both ways (node id <-> protocol id)."""

    def __init__(self, parties: Sequence[Party], me: str) -> None:
        self.by_node = {p.node_id: p for p in parties}
        self.by_pid = {p.party_id: p for p in parties}
        if len(self.by_node) != len(parties) or len(self.by_pid) != len(parties):
            invalid_request("duplicate_party", "duplicate node or party id in the session roster")
        if me not in self.by_node:
            invalid_request("not_a_party", f"{me} is not a party of this session")
        self.me = self.by_node[me]

    def public(self, node_id: str) -> NodePublic:
        party = self.by_node.get(node_id)
        if party is None:
            violation("unknown_sender", [node_id], f"message from {node_id}, who is not a party")
        return NodePublic(party.node_id, party.signing_public_key, party.encryption_public_key)

    def node_ids(self, pids: Sequence[int]) -> list[str]:
        return [self.by_pid[p].node_id if p in self.by_pid else f"party-{p}" for p in pids]


def violation(code: str, culprits: Sequence[str], message: str) -> NoReturn:
    """A peer broke the protocol: abort the session, naming it; never retried (SECURITY.md S6)."""
    raise ApplicationError(message, {"code": code, "culprits": list(culprits)}, type=PROTOCOL_VIOLATION,
                           non_retryable=True)


def invalid_request(code: str, message: str) -> NoReturn:
    raise ApplicationError(message, {"code": code, "culprits": []}, type=INVALID_REQUEST, non_retryable=True)


def digest_bytes(digest_hex: str) -> bytes:
    """A 32-byte digest from its hex, or `invalid_digest`."""
    try:
        digest = bytes.fromhex(digest_hex)
    except ValueError:
        invalid_request("invalid_digest", "digest is not hex")
    if len(digest) != 32:
        invalid_request("invalid_digest", "digest must be 32 bytes")
    return digest


VAULT_RETRY_DELAY = timedelta(seconds=3)


def vault_unavailable(message: str) -> NoReturn:
    """The node's Vault is down or sealed (a restart): nothing was read or consumed; the round is tried again
    after VAULT_RETRY_DELAY rather than failing the session at once (found by scripts/chaos)."""
    raise ApplicationError(message, {"code": "vault_unavailable", "culprits": []}, type=DEPENDENCY_UNAVAILABLE,
                           next_retry_delay=VAULT_RETRY_DELAY)


def active_share_bytes(services: NodeServices, key_id: str) -> bytes:
    """The node's active share of `key_id`, sealed bytes opened; Vault down is retried later
    (`vault_unavailable`), anything else is `share_unavailable` (nothing read or consumed either way)."""
    try:
        return services.shares.get_share(key_id)
    except (VaultUnavailableError, VaultSealedError) as exc:
        vault_unavailable(f"{services.node_id} cannot reach Vault for its share: {type(exc).__name__}")
    except KeystoreError as exc:
        invalid_request("share_unavailable", f"{services.node_id} cannot read its share of {key_id}: "
                                             f"{type(exc).__name__}")


def raise_protocol_error(error: ProtocolError, roster: Roster) -> NoReturn:
    culprits = roster.node_ids(error.culprits)
    violation(error.reason, culprits, f"{error.reason}: {', '.join(culprits) or 'unattributed'}")


def raise_envelope_error(error: EnvelopeError) -> NoReturn:
    # A bad signature may be the relay's doing, so it names nobody; a message that does not parse or
    # check is a protocol violation of its sender (SECURITY.md A5), as are attributable faults.
    named = error.attributable or error.reason in ("equivocation", "malformed")
    violation(error.reason, [error.sender] if named else [], f"message from {error.sender} rejected: {error.reason}")


def canonical_request(value: Any) -> bytes:
    """Canonical bytes of an activity input: what makes a retry "byte-identical" (SECURITY.md N3)."""
    data = asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def digest_of(value: Any) -> str:
    return hashlib.sha256(canonical_request(value)).hexdigest()


def to_wire(envelope: Envelope) -> WireMessage:
    recipient = BROADCAST if envelope.recipient == ENVELOPE_BROADCAST else envelope.recipient
    return WireMessage(sender=envelope.sender, recipient=recipient, round=envelope.round,
                       body=json.dumps(envelope.to_dict(), separators=(",", ":")))


def from_wire(message: WireMessage) -> Envelope:
    """The relayed envelope; one that does not parse (garbage, wrong shape, nested 100,000 deep) is a
    protocol violation naming the sender the relay gave, never an unhandled error (SECURITY.md A5)."""
    sender = str(message.sender)[:128]
    try:
        envelope = Envelope.from_json(message.body)
    except (EnvelopeError, ValueError, TypeError, KeyError, RecursionError) as exc:
        detail = exc.detail if isinstance(exc, EnvelopeError) else type(exc).__name__
        violation("malformed_message", [sender], f"unparseable message from {sender}: {detail}")
    if envelope.sender != message.sender:
        violation("sender_mismatch", [], f"relay labelled a message of {envelope.sender} as {message.sender}")
    return envelope


def seal_outbound(services: NodeServices, roster: Roster, *, ssid: bytes, protocol: str,
                  messages: Sequence[RoundMessage]) -> list[WireMessage]:
    """Sign every outbound protocol message; encrypt point-to-point ones to their recipient."""
    wires = []
    for message in messages:
        if message.recipient == TSS_BROADCAST:
            envelope = seal(services.identity, ssid=ssid, protocol=protocol, round=message.round,
                            kind=message.kind, payload=message.payload)
        else:
            recipient = roster.by_pid[message.recipient].node_id
            envelope = seal(services.identity, ssid=ssid, protocol=protocol, round=message.round, kind=message.kind,
                            payload=message.payload, recipient=recipient, recipient_key=roster.public(recipient))
        wires.append(to_wire(envelope))
    return wires


def open_inbound(services: NodeServices, roster: Roster, *, ssid: bytes, protocol: str, round_no: int,
                 messages: Sequence[WireMessage]) -> list[RoundMessage]:
    """Verify and open every inbound message of round `round_no`; repeats are dropped, a second
    different message from one sender for one slot is equivocation."""
    guard = InboxGuard()
    opened = []
    for wire in messages:
        envelope = from_wire(wire)
        try:
            payload = guard.receive(envelope, services.identity, roster.public(envelope.sender), ssid=ssid,
                                    protocol=protocol, round=round_no)
        except EnvelopeError as exc:
            raise_envelope_error(exc)
        if payload is None:
            continue
        sender = roster.by_node[envelope.sender].party_id
        recipient = TSS_BROADCAST if envelope.is_broadcast else roster.me.party_id
        opened.append(RoundMessage(sender, recipient, envelope.round, envelope.kind, payload))
    return opened
