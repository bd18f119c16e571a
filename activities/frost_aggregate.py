"""Coordinator-side FROST aggregation: public data in, signature out, culprit named on failure."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.coordinator import SessionEndHook, complete_signed, signed_endings
from activities.frost_signing import COMMIT_PROTOCOL, SIGN_PROTOCOL, batch_item_session, commitment_ssid, share_ssid
from activities.node_services import from_wire
from activities.pool_trigger import start_refill_in_background
from mpc.chains import uses_taproot_tweak
from mpc.db.models import Key
from mpc.envelope import EnvelopeError, json_object
from mpc.hd import derive, key_chain_code, present_child
from mpc.identity import NodePublic
from mpc.protocols import Activity
from mpc.verify import verify_signature
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.frost import (
    Ciphersuite,
    PublicKeyPackage,
    SignatureShare,
    SigningCommitments,
    TaprootTweak,
    aggregate,
    get_ciphersuite,
    taproot_output_key,
)
from tss.hd import DerivationError
from workflows.driver import INVALID_REQUEST, PROTOCOL_VIOLATION
from workflows.types import (
    AggregateBatchInput,
    AggregateInput,
    Party,
    SignFinishInput,
    SignFinishResult,
    WireMessage,
)


def violation_error(code: str, culprits: list[str], message: str) -> ApplicationError:
    return ApplicationError(message, {"code": code, "culprits": culprits}, type=PROTOCOL_VIOLATION,
                            non_retryable=True)


def verified_payload(wire: WireMessage, party: Party | None, *, ssid: bytes, protocol: str, round_no: int,
                      kind: str) -> bytes:
    """Check a broadcast envelope's signature and header (the coordinator holds no identity key).

    Whatever does not parse or check is a non-retryable `ProtocolViolation` (SECURITY.md A5): a
    parse failure names the sender, a bad signature names nobody (the relay may have altered it).
    """
    if party is None:
        raise violation_error("unknown_sender", [wire.sender], f"{wire.sender} is not a signer of this session")
    envelope = from_wire(wire)  # a ProtocolViolation naming the sender if it does not parse
    try:
        signature = bytes.fromhex(envelope.signature)
        public = NodePublic(party.node_id, party.signing_public_key, party.encryption_public_key)
        signed = public.verify(envelope.signed_bytes(), signature)
        context = (bytes.fromhex(envelope.ssid), envelope.protocol, envelope.round, envelope.kind)
        payload = envelope.payload_bytes()
    except (EnvelopeError, ValueError, TypeError):
        raise violation_error("malformed_message", [wire.sender], f"malformed message from {wire.sender}") from None
    if not signed:
        raise violation_error("bad_signature", [], f"message labelled {wire.sender} is not signed by it")
    if context != (ssid, protocol, round_no, kind):
        raise violation_error("wrong_context", [party.node_id], f"{party.node_id} signed a message for another context")
    return payload


def _commitment(suite: Ciphersuite, wire: WireMessage, payload: bytes) -> SigningCommitments:
    """A signer's signed commitment payload; any fault in it is the signer's (never retried)."""
    try:
        body = json_object(payload, max_bytes=64 * 1024, what="commitment")
        return SigningCommitments.from_bytes(suite, bytes.fromhex(body["commitment"]))
    except (EnvelopeError, EncodingError, ValueError, TypeError, KeyError):
        raise violation_error("malformed_commitment", [wire.sender],
                              f"malformed commitment from {wire.sender}") from None


def _taproot(tweak: bool, merkle_root: str | None, key: Key) -> TaprootTweak | None:
    """The signers' tweak (the same fields as their `FrostSignRequest` or batch item), checked against the key.

    A mismatch is the request's fault, never a signer's: refused as `InvalidRequest`, naming nobody.
    """
    if tweak != uses_taproot_tweak(key.chain_type, key.curve):
        raise ApplicationError(f"key {key.key_id} {'needs' if not tweak else 'takes no'} "
                               "taproot tweak", type=INVALID_REQUEST, non_retryable=True)
    if not tweak:
        if merkle_root:
            raise ApplicationError("a taproot merkle root needs the taproot tweak", type=INVALID_REQUEST,
                                   non_retryable=True)
        return None
    try:
        return TaprootTweak(bytes.fromhex(merkle_root) if merkle_root else None)
    except (ValueError, InvalidInputError):
        raise ApplicationError("taproot merkle root must be 32 bytes of hex", type=INVALID_REQUEST,
                               non_retryable=True) from None


def _child(key: Key, public: PublicKeyPackage, path: str) -> tuple[PublicKeyPackage, bytes]:
    """The child's package (every point moved by the tweak) and the key its signatures verify under."""
    try:
        derived = derive(key.public_data["package"]["group_public_key"], key_chain_code(key.public_data), path)
        child = public.with_tweak(derived.tweak)
    except (DerivationError, InvalidInputError) as exc:
        raise ApplicationError(f"cannot derive {path}: {exc}", type=INVALID_REQUEST, non_retryable=True) from None
    forms = present_child("frost", key.curve, key.chain_type, derived.public_key)
    return child, bytes.fromhex(forms["verifying_key"])


@dataclass
class _Key:
    """The key's public data an aggregation needs, read once per session (a BIP-32 child's, when one signs)."""

    record: Key
    public: PublicKeyPackage
    suite: Ciphersuite
    verifying_key: bytes


class FrostAggregation:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], on_end: SessionEndHook | None = None) -> None:
        self.sessions = sessions
        self.on_end = on_end

    async def _key(self, key_id: str) -> _Key:
        async with self.sessions() as db:
            key = await db.get(Key, key_id)
        if key is None or not key.public_data.get("package"):
            raise ApplicationError(f"key {key_id} has no public package", type=INVALID_REQUEST, non_retryable=True)
        public = PublicKeyPackage.from_dict(key.public_data["package"])
        return _Key(key, public, get_ciphersuite(public.suite), bytes.fromhex(key.public_data["verifying_key"]))

    @activity.defn(name=Activity.FROST_AGGREGATE.value)
    async def aggregate_signature(self, request: AggregateInput) -> str:
        key = await self._key(request.key_id)
        if request.derivation_path is not None:  # a BIP-32 child: its package and verifying key
            public, verifying_key = _child(key.record, key.public, request.derivation_path)
            key = dataclasses.replace(key, public=public, verifying_key=verifying_key)
        taproot = _taproot(request.taproot_tweak, request.taproot_merkle_root, key.record)
        return _aggregate_one(key, request.signers, request.session_id, request.digest, request.commitments,
                              request.shares, taproot)

    @staticmethod
    def _child_key(key: _Key, path: str | None, cache: dict[str | None, _Key]) -> _Key:
        """The key, or its BIP-32 child at `path` (each child derived once per batch)."""
        if path not in cache:
            public, verifying_key = _child(key.record, key.public, path) if path is not None else (
                key.public, key.verifying_key)
            cache[path] = dataclasses.replace(key, public=public, verifying_key=verifying_key)
        return cache[path]

    @activity.defn(name=Activity.FROST_AGGREGATE_BATCH.value)
    async def aggregate_batch(self, request: AggregateBatchInput) -> list[str]:
        """One signature per item, in item order; each verified independently before any is released."""
        key = await self._key(request.key_id)
        if len(request.shares) != len(request.items):
            raise ApplicationError("one share list per item is needed", type=INVALID_REQUEST, non_retryable=True)
        children: dict[str | None, _Key] = {}
        signatures = []
        for i, (item, shares) in enumerate(zip(request.items, request.shares, strict=True)):
            if item.taproot_merkle_root is not None and request.taproot_merkle_root is not None:
                raise ApplicationError("a batch names one taproot merkle root, or one per item",
                                       type=INVALID_REQUEST, non_retryable=True)
            taproot = _taproot(request.taproot_tweak, item.taproot_merkle_root or request.taproot_merkle_root,
                               key.record)
            signatures.append(_aggregate_one(self._child_key(key, item.derivation_path, children), request.signers,
                                             batch_item_session(request.session_id, i), item.digest,
                                             item.commitments, shares, taproot))
        return signatures


    @activity.defn(name=Activity.FROST_SIGN_FINISH.value)
    async def finish_sign(self, request: SignFinishInput) -> SignFinishResult:
        """Aggregate and verify every signature; then the session completed with them and the `key.sign`
        audit entry in one transaction. A failed aggregation raises (culprit named) and writes nothing.
        Coalesced requests (`item_sessions`): each session completes with its own digest's signature."""
        signed: dict[str, str | list[str]]
        if request.batch is not None:
            result = SignFinishResult(signatures=await self.aggregate_batch(request.batch))
            key_id, signed = request.batch.key_id, {"digests": [item.digest for item in request.batch.items]}
            if any(item.derivation_path is not None for item in request.batch.items):
                signed["derivation_paths"] = [item.derivation_path or "m" for item in request.batch.items]
        elif request.single is not None:
            result = SignFinishResult(signature=await self.aggregate_signature(request.single))
            key_id, signed = request.single.key_id, {"digest": request.single.digest}
            if request.single.derivation_path is not None:
                signed["derivation_path"] = request.single.derivation_path
        else:
            raise ApplicationError("nothing to aggregate", type=INVALID_REQUEST, non_retryable=True)
        item_digests = [item.digest for item in request.batch.items] if request.batch is not None else []
        await complete_signed(self.sessions, self.on_end, request.actor, key_id, signed_endings(
            request.session_id, request.item_sessions, request.signers, request.used_pool, signed,
            signature=result.signature, signatures=result.signatures, item_digests=item_digests))
        if request.refill is not None:
            start_refill_in_background(request.refill)
        return result


def _aggregate_one(key: _Key, signers: list[Party], session_id: str, digest: str, commitment_wires: list[WireMessage],
                   share_wires: list[WireMessage], taproot: TaprootTweak | None) -> str:
    """Check every signed commitment and share, aggregate (culprits named), verify independently (I5)."""
    suite, public = key.suite, key.public
    by_node = {p.node_id: p for p in signers}
    node_of = {p.party_id: p.node_id for p in signers}
    commitments = []
    for wire in commitment_wires:
        payload = verified_payload(wire, by_node.get(wire.sender), ssid=commitment_ssid(key.record.key_id),
                                    protocol=COMMIT_PROTOCOL, round_no=1, kind="commitment")
        commitments.append(_commitment(suite, wire, payload))
    ssid = share_ssid(session_id, key.record.key_id, digest, commitment_wires)
    shares = []
    for wire in share_wires:
        raw = verified_payload(wire, by_node.get(wire.sender), ssid=ssid, protocol=SIGN_PROTOCOL, round_no=2,
                                kind="share")
        try:
            share = SignatureShare.from_bytes(suite, raw)
        except EncodingError:
            raise violation_error("malformed_share", [wire.sender], f"malformed share from {wire.sender}") from None
        if node_of.get(share.identifier) != wire.sender:
            raise violation_error("share_identifier_mismatch", [wire.sender], f"{wire.sender} sent another's share")
        shares.append(share)
    message = bytes.fromhex(digest)
    try:
        signature = aggregate(suite, public, message, sorted(commitments, key=lambda c: c.identifier), shares,
                              taproot=taproot)
    except ProtocolError as exc:
        culprits = [node_of.get(i, f"party-{i}") for i in exc.culprits]
        raise violation_error(exc.reason, culprits, f"{exc.reason}: {', '.join(culprits)}") from None
    verifying_key = key.verifying_key
    if taproot is not None and taproot.merkle_root is not None:
        # A script-path commitment: the output key the signers signed under is tweaked with the root.
        verifying_key, _parity = taproot_output_key(public.group_public_key, taproot.merkle_root)
    if not verify_signature(public.suite, verifying_key, message, signature):
        raise ApplicationError("aggregate signature failed independent verification", type="VerificationFailed",
                               non_retryable=True)
    return signature.hex()
