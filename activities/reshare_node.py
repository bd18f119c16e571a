"""Phase two of a refresh or reshare on a node: ACK, test signature, activation, erasure.

After the protocol rounds every new holder has its new share stored *inactive* (epoch + 1, beside
the old one, which still signs). Then (DESIGN.md "Reshare and refresh: two phases", SECURITY.md R3):

1. `ack`: each new holder signs H(ssid || new public shares || Y) (the protocol's ack digest) with
   its identity key.
2. `test_commit` / `test_sign`: t' new holders make a FROST signature with the *new* shares over a
   domain-separated digest (never a digest a chain accepts). Each first checks the whole ACK set:
   every new holder, by its pinned identity key, over this node's own digest (the echo check).
3. `activate`: every new holder checks the ACK set again, aggregates the test signature itself and
   verifies it under the unchanged group key, and only then points its key at the new epoch. This
   is the commit point: before it the old epoch signs everywhere, after it the new one.
4. `retire`: every old holder erases the old epoch and the nonces made for it. A holder that stays
   erases only once its new epoch is active; one that leaves the committee checks the reshare
   intent against its pinned policy, every new holder's ACK and the test signature under its own
   group key, so nobody can make it erase a share the new committee does not yet replace.

Every step is idempotent (a Temporal retry returns the same answer), and a refusal changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from coincurve import PublicKey
from temporalio import activity

from activities.authorisation import Pinned
from activities.frost_signing import NONCES
from activities.node_services import (
    NodeServices,
    Roster,
    canonical_request,
    from_wire,
    invalid_request,
    raise_envelope_error,
    raise_protocol_error,
    to_wire,
    violation,
)
from activities.recover_staging import discard_staged
from mpc.envelope import EnvelopeError, open_envelope, seal
from mpc.intents import Intent, IntentRefused, KeyPolicy, SignedIntent, verify_ed25519
from mpc.keystore import KeystoreError, NonceReuseError, RetryMismatchError, ShareMeta, ShareNotFoundError
from mpc.protocols import Activity
from mpc.reshare_digests import ack_message, test_message, test_ssid
from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.frost import (
    KeyShare,
    PublicKeyPackage,
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    aggregate,
    commit,
    get_ciphersuite,
    sign,
    verify,
)
from workflows.types import ReshareAck, ReshareNodeResult, ReshareStep, WireMessage

TEST_PROTOCOL = "reshare-test"
TEST_NONCES = "reshare-test-nonces"
RECORDS = "reshare"


def _test_ssid(step: ReshareStep) -> bytes:
    return test_ssid(step.session_id, step.key_id, step.epoch, step.ack_digest)


def _checked(make: Any, step: ReshareStep, ack_digest: str) -> bytes:
    try:
        return make(step.key_id, step.epoch, ack_digest)
    except ValueError:
        invalid_request("invalid_ack", "the ack digest is not hex")


def check_acks(step: ReshareStep, roster: Sequence[Mapping[str, Any]]) -> None:
    """Every member of the new `roster` signed an ACK of `step.ack_digest` (no more, no fewer)."""
    keys = {str(e["node_id"]): str(e["ed25519"]) for e in roster}
    seen: set[str] = set()
    for ack in step.acks:
        if ack.node_id not in keys or ack.node_id in seen:
            invalid_request("ack_set_invalid", f"an ACK from {ack.node_id}, who is not a new holder, or twice")
        if not verify_ed25519(keys[ack.node_id], _checked(ack_message, step, ack.ack_digest), ack.signature):
            invalid_request("ack_set_invalid", f"the ACK labelled {ack.node_id} does not verify")
        if ack.ack_digest != step.ack_digest:
            violation("ack_mismatch", [], f"{ack.node_id} confirmed other new public shares than this node holds")
        seen.add(ack.node_id)
    missing = sorted(set(keys) - seen)
    if missing:
        invalid_request("ack_set_incomplete", f"no ACK from {', '.join(missing)}")


class ReshareNode:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    # ---- helpers ---------------------------------------------------------------------------
    def _new_share(self, step: ReshareStep) -> tuple[ShareMeta, Pinned]:
        """The share of the new epoch this node stored in the protocol rounds, for this digest."""
        try:
            meta = self.services.shares.get_meta(step.key_id, step.epoch)
        except (KeystoreError, ValueError):
            invalid_request("share_unavailable", f"{self.services.node_id} holds no share of {step.key_id} at "
                                                 f"epoch {step.epoch}")
        pinned = Pinned.from_public(meta.public)
        if meta.public.get("ack_digest") != step.ack_digest or pinned is None:
            invalid_request("ack_mismatch", f"the share of epoch {step.epoch} on {self.services.node_id} is not the "
                                            "one this step confirms")
        return meta, pinned

    def _answer_once(self, step: ReshareStep, name: str, produce: Any) -> dict[str, Any]:
        try:
            raw = self.services.state.answer_once(RECORDS, _record_id(step), name, canonical_request(step),
                                                  lambda: json.dumps(produce()).encode())
        except RetryMismatchError:
            invalid_request("round_input_changed", f"{name} of session {step.session_id} was answered for other input")
        return json.loads(raw)

    def _signers(self, step: ReshareStep, pinned: Pinned) -> Roster:
        pinned.check_parties(step.signers)
        if len(step.signers) < pinned.threshold:
            invalid_request("invalid_signers", f"the test signature needs {pinned.threshold} new holders")
        return Roster(step.signers, step.signers[0].node_id)

    def _commitments(self, step: ReshareStep, roster: Roster, suite: Any) -> list[SigningCommitments]:
        found: dict[str, SigningCommitments] = {}
        for wire in step.commitments:
            payload = self._open(step, wire, roster, round_no=1, kind="commitment")
            try:
                commitment = SigningCommitments.from_bytes(suite, payload)
            except (EncodingError, InvalidInputError, ValueError):
                violation("malformed_commitment", [wire.sender], f"bad test commitment from {wire.sender}")
            if commitment.identifier != roster.by_node[wire.sender].party_id or wire.sender in found:
                violation("commitment_mismatch", [wire.sender], f"{wire.sender} sent another's or a second commitment")
            found[wire.sender] = commitment
        if set(found) != set(roster.by_node):
            invalid_request("missing_commitments", "the test signature lacks a signer's commitment")
        return sorted(found.values(), key=lambda c: c.identifier)

    def _open(self, step: ReshareStep, wire: WireMessage, roster: Roster, *, round_no: int, kind: str) -> bytes:
        envelope = from_wire(wire)
        if envelope.sender not in roster.by_node:
            violation("unknown_sender", [envelope.sender], f"{envelope.sender} is not a test signer")
        try:
            return open_envelope(envelope, self.services.identity, roster.public(envelope.sender),
                                 ssid=_test_ssid(step), protocol=TEST_PROTOCOL, round=round_no, kind=kind)
        except EnvelopeError as exc:
            raise_envelope_error(exc)

    def _test_signature(self, step: ReshareStep, meta: ShareMeta, pinned: Pinned) -> bytes:
        """Aggregate the test signature from the signers' shares and verify it under the group key."""
        public = PublicKeyPackage.from_dict(meta.public["package"])
        suite = get_ciphersuite(public.suite)
        roster = self._signers(step, pinned)
        commitments = self._commitments(step, roster, suite)
        shares = []
        for wire in step.shares:
            try:
                payload = self._open(step, wire, roster, round_no=2, kind="share")
                shares.append(SignatureShare.from_bytes(suite, payload))
            except (EncodingError, InvalidInputError, ValueError):
                violation("malformed_share", [wire.sender], f"bad test signature share from {wire.sender}")
        message = _checked(test_message, step, step.ack_digest)
        try:
            signature = aggregate(suite, public, message, commitments, shares)
        except ProtocolError as exc:
            raise_protocol_error(exc, roster)
        if not verify(suite, public.group_public_key, message, signature):
            violation("invalid_signature", [], "the test signature of the new shares does not verify")
        return signature

    # ---- activities ------------------------------------------------------------------------
    @activity.defn(name=Activity.RESHARE_ACK.value)
    async def ack(self, step: ReshareStep) -> ReshareAck:
        _, pinned = self._new_share(step)
        if self.services.node_id not in {str(e["node_id"]) for e in pinned.roster}:
            invalid_request("not_a_party", f"{self.services.node_id} is not in the new committee")
        signature = self.services.identity.sign(_checked(ack_message, step, step.ack_digest))
        return ReshareAck(self.services.node_id, step.ack_digest, signature.hex())

    @activity.defn(name=Activity.RESHARE_TEST_COMMIT.value)
    async def test_commit(self, step: ReshareStep) -> WireMessage:
        _, pinned = self._new_share(step)
        check_acks(step, pinned.roster)

        def produce() -> dict[str, Any]:
            share = KeyShare.from_bytes(self.services.shares.get_share(step.key_id, step.epoch))
            suite = get_ciphersuite(share.suite)
            nonces, commitments = commit(suite, share)
            nonce_id = secrets.token_hex(16)
            self.services.state.put_one_time(TEST_NONCES, nonce_id, nonces.to_bytes(),
                                             public={"key_id": step.key_id, "epoch": step.epoch})
            envelope = seal(self.services.identity, ssid=_test_ssid(step), protocol=TEST_PROTOCOL, round=1,
                            kind="commitment", payload=commitments.to_bytes(suite))
            return {"wire": asdict(to_wire(envelope)), "nonce_id": nonce_id}

        return WireMessage(**self._answer_once(step, "test-commit", produce)["wire"])

    @activity.defn(name=Activity.RESHARE_TEST_SIGN.value)
    async def test_sign(self, step: ReshareStep) -> WireMessage:
        _, pinned = self._new_share(step)
        check_acks(step, pinned.roster)
        roster = self._signers(step, pinned)
        me = roster.by_node.get(self.services.node_id)
        if me is None:
            invalid_request("not_a_party", f"{self.services.node_id} is not a test signer")
        try:
            stored = json.loads(self.services.state.stored_answer(RECORDS, _record_id(step), "test-commit"))
        except (ShareNotFoundError, KeystoreError):
            invalid_request("nonce_unavailable", f"{self.services.node_id} made no test commitment in this session")

        def produce() -> dict[str, Any]:
            share = KeyShare.from_bytes(self.services.shares.get_share(step.key_id, step.epoch))
            suite = get_ciphersuite(share.suite)
            commitments = self._commitments(step, roster, suite)
            try:
                nonces = SigningNonces.from_bytes(self.services.state.consume(TEST_NONCES, stored["nonce_id"]))
            except NonceReuseError:
                invalid_request("nonce_consumed", "the test nonce was already used")
            message = _checked(test_message, step, step.ack_digest)
            try:
                share_out = sign(suite, share, nonces, message, commitments)
            except ProtocolError as exc:
                raise_protocol_error(exc, roster)
            envelope = seal(self.services.identity, ssid=_test_ssid(step), protocol=TEST_PROTOCOL, round=2,
                            kind="share", payload=share_out.to_bytes(suite))
            return asdict(to_wire(envelope))

        return WireMessage(**self._answer_once(step, "test-sign", produce))

    @activity.defn(name=Activity.RESHARE_ACTIVATE.value)
    async def activate(self, step: ReshareStep) -> ReshareNodeResult:
        shares = self.services.shares
        meta, pinned = self._new_share(step)
        check_acks(step, pinned.roster)
        package = meta.public["package"]
        if is_ecdsa(package):  # signed with the round driver (GG18/GG20 sign stages) before this step
            if not verify_test_signature(package, _checked(test_message, step, step.ack_digest), step.test_signature):
                violation("invalid_signature", [], "the test signature of the new shares does not verify")
            signature = bytes.fromhex(step.test_signature)
        else:
            signature = self._test_signature(step, meta, pinned)
        if shares.active_epoch(step.key_id) != step.epoch:
            shares.activate_epoch(step.key_id, step.epoch)
        self.services.state.discard_key_records(TEST_NONCES, step.key_id, step.epoch + 1)
        discard_staged(self.services.state, step.key_id)  # a failed recovery's staged share, if any
        activity.logger.info("new epoch active", extra={"key_id": step.key_id, "epoch": step.epoch})
        return ReshareNodeResult(self.services.node_id, True, signature.hex())

    @activity.defn(name=Activity.RESHARE_RETIRE.value)
    async def retire(self, step: ReshareStep) -> ReshareNodeResult:
        shares, key_id = self.services.shares, step.key_id
        active = shares.active_epoch(key_id)
        if active is None:
            return ReshareNodeResult(self.services.node_id, True, "nothing held")
        if active == step.epoch:  # a holder that stays: its own activation checked the commit
            erased = shares.retire_epochs_before(key_id, step.epoch)
        elif active < step.epoch:
            self._check_left_committee(step, active)
            erased = shares.epochs(key_id)
            shares.delete_key(key_id)
        else:
            invalid_request("stale_step", f"{key_id} is at epoch {active} on this node, past {step.epoch}")
        discarded = self.services.state.discard_key_records(NONCES, key_id, step.epoch)
        activity.logger.info("old epochs erased", extra={"key_id": key_id, "epochs": erased, "nonces": discarded})
        return ReshareNodeResult(self.services.node_id, True, f"erased epochs {erased}")

    def _check_left_committee(self, step: ReshareStep, active: int) -> None:
        """An old holder outside the new committee erases only a share that the new committee
        verifiably replaced: the reshare intent under its pinned policy, every new holder's ACK,
        and the test signature under its own group key."""
        meta = self.services.shares.get_meta(step.key_id, active)
        pinned = Pinned.from_public(meta.public)
        policy = pinned.policy if pinned is not None else KeyPolicy()
        operation = str(_intent_field(step, "operation"))
        if operation not in ("reshare", "refresh", "recover") or step.epoch != active + 1:
            invalid_request("unauthorized", "erasing a share needs the reshare intent of the epoch that replaced it")
        intent = self.services.intents.verify(step.intent, operation=operation, key_id=step.key_id, epoch=active,
                                              policy=policy, allow_expired=True)
        new_roster = intent.details.get("new_roster")
        if not isinstance(new_roster, list) or any(str(e.get("node_id")) == self.services.node_id
                                                   for e in new_roster if isinstance(e, Mapping)):
            invalid_request("not_activated", f"{self.services.node_id} stays in the committee; it activates first")
        check_acks(step, new_roster)
        if not verify_test_signature(meta.public["package"], _checked(test_message, step, step.ack_digest),
                                     step.test_signature):
            invalid_request("unverified_commit", "the test signature of the new shares does not verify")


def is_ecdsa(package: Mapping[str, Any]) -> bool:
    return package.get("protocol") == "gg20"  # tss.ecdsa's public record; FROST packages name their suite


def verify_test_signature(package: Mapping[str, Any], message: bytes, signature_hex: str) -> bool:
    """The test signature under the key's (unchanged) group key: ECDSA by public-key recovery with
    libsecp256k1, FROST with the suite's own verification (BIP-340 for Taproot, untweaked)."""
    try:
        signature = bytes.fromhex(signature_hex)
        if is_ecdsa(package):
            recovered = PublicKey.from_signature_and_message(signature, message, hasher=None)
            return len(signature) == 65 and recovered.format() == bytes.fromhex(str(package["group_key"]))
        public = PublicKeyPackage.from_dict(dict(package))
        return verify(get_ciphersuite(public.suite), public.group_public_key, message, signature)
    except (ValueError, TypeError, KeyError, InvalidInputError, EncodingError):
        return False


def _intent_field(step: ReshareStep, name: str) -> Any:
    """A field of the step's intent before it is verified (which operation to verify it for)."""
    if step.intent is None:
        return None
    try:
        return getattr(Intent.parse(SignedIntent.of(step.intent).raw), name)
    except (IntentRefused, ValueError):
        return None


def _record_id(step: ReshareStep) -> str:
    return hashlib.sha256(f"{step.session_id}\x00{step.key_id}\x00{step.epoch}".encode()).hexdigest()[:32]


__all__ = ["ReshareNode", "check_acks"]


