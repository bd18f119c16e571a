"""FROST signing on a participant: nonce preprocessing (the pool) and signature shares.

A nonce is generated as RFC 9591 `commit`, sealed in the node's one-time store, and only its
commitment leaves the node, signed. Signing consumes the nonce durably *before* the share is
computed and returned (SECURITY.md N2), so a crash after the consume makes a retry fail rather
than sign twice with one nonce; the node's own stored output answers a byte-identical retry (N3).
"Durably" is one directory fsync at the end of the activity, before its answer leaves the process
(`_off_loop`): until the activity returns, no share has left the node, so nothing is lost by syncing
the consumed markers and the intent records together there rather than one by one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict

from temporalio import activity

from activities.authorisation import Pinned, calling_workflow
from activities.derivation import child_tweak
from activities.key_state import refuse_if_disabled
from activities.node_services import (
    NodeServices,
    Roster,
    active_share_bytes,
    canonical_request,
    digest_bytes,
    from_wire,
    invalid_request,
    raise_envelope_error,
    raise_protocol_error,
    to_wire,
    vault_unavailable,
    violation,
)
from activities.purpose import Target, check_purpose, expect_targets
from mpc.envelope import EnvelopeError, json_object, open_envelope, seal
from mpc.intents import Intent, KeyPolicy
from mpc.keystore import KeystoreError, RetryMismatchError, VaultSealedError, VaultUnavailableError, one_sync
from mpc.protocols import Activity
from tss.errors import EncodingError, InvalidInputError, NonceReuseError, ProtocolError
from tss.frost import (
    Ciphersuite,
    KeyShare,
    SigningCommitments,
    SigningNonces,
    TaprootTweak,
    commit,
    get_ciphersuite,
    sign,
)
from workflows.types import (
    FrostBatchShares,
    FrostBatchSignRequest,
    FrostSignRequest,
    PreprocessRequest,
    PreprocessResult,
    WireMessage,
)

NONCES = "frost-nonces"
SIGN_RECORDS = "frost-sign"
COMMIT_PROTOCOL = "frost-commit"
SIGN_PROTOCOL = "frost-sign"
MAX_PREPROCESS = 1000
MAX_COMMITMENT_BYTES = 4096  # a signed commitment payload: ids and two points, a few hundred bytes
MAX_BATCH_ITEMS = 256  # as the API's MAX_BATCH_DIGESTS
MAX_MESSAGE_BYTES = 1232  # a Solana transaction message (Ed25519 signs the message itself)


def commitment_ssid(key_id: str) -> bytes:
    """Commitments are bound to their key; the nonce id inside binds them to one nonce."""
    return hashlib.sha256(b"mpc-signer/frost-commitment" + key_id.encode()).digest()


def share_ssid(session_id: str, key_id: str, digest: str, commitments: list[WireMessage]) -> bytes:
    """A share is bound to the session, key, message and the exact commitment list."""
    h = hashlib.sha256(b"mpc-signer/frost-share")
    for part in (session_id, key_id, digest, *sorted(m.body for m in commitments)):
        h.update(len(part).to_bytes(4, "big") + part.encode())
    return h.digest()


def batch_item_session(session_id: str, index: int) -> str:
    """Each share of a batch is bound to its position too (with its digest and commitment list)."""
    return f"{session_id}#{index}"


def _batch_targets(request: FrostBatchSignRequest) -> list[Target]:
    """Each item's digest, merkle root (its own, or the request's one root for a raw batch) and child."""
    targets = []
    for item in request.items:
        if item.taproot_merkle_root is not None and request.taproot_merkle_root is not None:
            invalid_request("invalid_signing_input", "a batch names one taproot merkle root, or one per item")
        targets.append(Target(item.digest, item.taproot_merkle_root or request.taproot_merkle_root,
                              item.derivation_path))
    return targets


class FrostSigning:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    def _key_share(self, key_id: str) -> KeyShare:
        return KeyShare.from_bytes(active_share_bytes(self.services, key_id))

    @activity.defn(name=Activity.FROST_PREPROCESS.value)
    async def preprocess(self, request: PreprocessRequest) -> PreprocessResult:
        if not 1 <= request.count <= MAX_PREPROCESS:
            invalid_request("invalid_count", f"count must be in [1, {MAX_PREPROCESS}]")
        record = hashlib.sha256(request.request_id.encode()).hexdigest()[:32]
        raw = await self._off_loop(lambda: self._answer_once(f"preprocess-{record}", request,
                                                             lambda: self._make_nonces(request)))
        return PreprocessResult(self.services.node_id, [WireMessage(**m) for m in json.loads(raw)])

    def _make_nonces(self, request: PreprocessRequest) -> bytes:
        key_share = self._key_share(request.key_id)
        suite = get_ciphersuite(key_share.suite)
        epoch = self.services.shares.active_epoch(request.key_id) or 0
        wires = []
        for _ in range(request.count):
            nonces, commitments = commit(suite, key_share)
            nonce_id = secrets.token_hex(16)
            self.services.state.put_one_time(NONCES, nonce_id, nonces.to_bytes(),
                                             public={"key_id": request.key_id, "epoch": epoch})
            payload = json.dumps({"key_id": request.key_id, "epoch": epoch, "nonce_id": nonce_id,
                                  "identifier": key_share.identifier,
                                  "commitment": commitments.to_bytes(suite).hex()}, sort_keys=True).encode()
            envelope = seal(self.services.identity, ssid=commitment_ssid(request.key_id), protocol=COMMIT_PROTOCOL,
                            round=1, kind="commitment", payload=payload)
            wires.append(asdict(to_wire(envelope)))
        return json.dumps(wires).encode()

    @staticmethod
    async def _off_loop(work: Callable[[], bytes]) -> bytes:
        """Run an activity's body on a worker thread (Vault calls, file writes: blocking), so one node serves
        several sessions at once, with one directory fsync at its end instead of one or two per record
        (mpc/keystore/_fs.py `one_sync`): everything durable before the answer leaves the node."""

        def durably() -> bytes:
            with one_sync():
                return work()

        return await asyncio.to_thread(durably)

    def _answer_once(self, name: str, request: object, produce: Callable[[], bytes]) -> bytes:
        try:
            return self.services.state.answer_once(SIGN_RECORDS, "answers", name, canonical_request(request), produce)
        except RetryMismatchError:
            invalid_request("round_input_changed", f"{name} was already answered for other input; refusing")

    @activity.defn(name=Activity.FROST_SIGN.value)
    async def sign_share(self, request: FrostSignRequest) -> WireMessage:
        roster = Roster(request.signers, self.services.node_id)
        name = f"share-{hashlib.sha256(request.session_id.encode()).hexdigest()[:32]}"
        raw = await self._off_loop(lambda: self._answer_once(name, request, lambda: self._make_share(request, roster)))
        return WireMessage(**json.loads(raw))

    def _make_share(self, request: FrostSignRequest, roster: Roster) -> bytes:
        try:
            message = bytes.fromhex(request.digest)
        except ValueError:
            invalid_request("invalid_digest", "digest is not hex")
        if not 1 <= len(message) <= MAX_MESSAGE_BYTES:  # 32 unless the intent's transaction needs more
            invalid_request("invalid_digest", f"the message must be 1..{MAX_MESSAGE_BYTES} bytes")
        key_share = self._key_share(request.key_id)
        suite = get_ciphersuite(key_share.suite)
        if roster.me.party_id != key_share.identifier:
            invalid_request("wrong_identifier", "the roster gives this node another identifier than its share")
        intent = self._authorise(request)
        # A BIP-32 child: the tweak from this node's own package and pinned chain code, for this signature.
        key_share = key_share.with_tweak(child_tweak(
            self.services, request.key_id, request.derivation_path, suite.name,
            suite.group.serialize_element(key_share.group_public_key)))
        # What the signature is for: a raw digest the policy allows, or what the intent's transaction needs.
        check_purpose(self.services, request.key_id, intent, family="frost", curve=suite.name)
        epoch = self.services.shares.active_epoch(request.key_id) or 0
        own_nonce_id, commitment_list = self._open_commitments(request.key_id, request.commitments, roster, suite,
                                                               epoch)
        taproot = self._taproot(request.taproot_tweak, request.taproot_merkle_root, suite.name)
        # Every check passed: the intent id is now bound to this workflow and signer set (durably, once).
        self.services.intents.record(intent, workflow_id=calling_workflow(), session_id=request.session_id,
                                     slot="frost-sign:" + ",".join(sorted(p.node_id for p in request.signers)))
        # The nonce is marked used on disk before the share exists (SECURITY.md N2).
        nonces = self._consume_nonce(own_nonce_id)
        try:
            share = sign(suite, key_share, nonces, message, commitment_list, taproot=taproot)
        except ProtocolError as exc:
            raise_protocol_error(exc, roster)
        except (InvalidInputError, NonceReuseError) as exc:
            invalid_request("invalid_signing_input", str(exc))
        envelope = seal(self.services.identity,
                        ssid=share_ssid(request.session_id, request.key_id, request.digest, request.commitments),
                        protocol=SIGN_PROTOCOL, round=2, kind="share", payload=share.to_bytes(suite))
        return json.dumps(asdict(to_wire(envelope))).encode()

    # ---- batch: one intent over every digest, one nonce per digest -----------------------------------------
    @activity.defn(name=Activity.FROST_SIGN_BATCH.value)
    async def sign_batch(self, request: FrostBatchSignRequest) -> FrostBatchShares:
        roster = Roster(request.signers, self.services.node_id)
        name = f"batch-{hashlib.sha256(request.session_id.encode()).hexdigest()[:32]}"
        raw = await self._off_loop(lambda: self._answer_once(name, request, lambda: self._make_batch(request, roster)))
        return FrostBatchShares(self.services.node_id, [WireMessage(**m) for m in json.loads(raw)])

    def _make_batch(self, request: FrostBatchSignRequest, roster: Roster) -> bytes:
        """Every check of every item first; then every own nonce is consumed durably; then the shares."""
        if not 1 <= len(request.items) <= MAX_BATCH_ITEMS:
            invalid_request("invalid_batch", f"a batch holds 1 to {MAX_BATCH_ITEMS} digests")
        messages = [digest_bytes(item.digest) for item in request.items]
        if len(set(messages)) != len(messages):
            invalid_request("invalid_batch", "the digests of a batch must be distinct")
        key_share = self._key_share(request.key_id)
        suite = get_ciphersuite(key_share.suite)
        if roster.me.party_id != key_share.identifier:
            invalid_request("wrong_identifier", "the roster gives this node another identifier than its share")
        intent = self._authorise(request)
        # What the signatures are for: raw digests this key may sign, or exactly the inputs of the intent's
        # transaction, each with its own root and child (SECURITY.md I7).
        check_purpose(self.services, request.key_id, intent, family="frost", curve=suite.name)
        epoch = self.services.shares.active_epoch(request.key_id) or 0
        opened = [self._open_commitments(request.key_id, item.commitments, roster, suite, epoch)
                  for item in request.items]
        bodies = [m.body for item in request.items for m in item.commitments]
        if len(set(bodies)) != len(bodies):
            invalid_request("duplicate_commitment", "a commitment appears twice in the batch; one nonce per digest")
        targets = _batch_targets(request)
        taproots = [self._taproot(request.taproot_tweak, t.taproot_merkle_root, suite.name) for t in targets]
        # Each child's share for its items: the tweak from this node's own package and pinned chain code.
        group_key = suite.group.serialize_element(key_share.group_public_key)
        shares = {path: key_share.with_tweak(child_tweak(self.services, request.key_id, path, suite.name, group_key))
                  for path in dict.fromkeys(t.derivation_path for t in targets)}
        self.services.intents.record(intent, workflow_id=calling_workflow(), session_id=request.session_id,
                                     slot="frost-sign:" + ",".join(sorted(p.node_id for p in request.signers)))
        # Every nonce of the batch is marked used on disk before any share exists (SECURITY.md N2).
        nonces = [self._consume_nonce(nonce_id) for nonce_id, _ in opened]
        wires = []
        for index, (item, message, nonce, (_, commitment_list), target, taproot) in enumerate(
                zip(request.items, messages, nonces, opened, targets, taproots, strict=True)):
            try:
                share = sign(suite, shares[target.derivation_path], nonce, message, commitment_list, taproot=taproot)
            except ProtocolError as exc:
                raise_protocol_error(exc, roster)
            except (InvalidInputError, NonceReuseError) as exc:
                invalid_request("invalid_signing_input", str(exc))
            envelope = seal(self.services.identity,
                            ssid=share_ssid(batch_item_session(request.session_id, index), request.key_id,
                                            item.digest, item.commitments),
                            protocol=SIGN_PROTOCOL, round=2, kind="share", payload=share.to_bytes(suite))
            wires.append(asdict(to_wire(envelope)))
        return json.dumps(wires).encode()

    def _consume_nonce(self, nonce_id: str) -> SigningNonces:
        try:
            return SigningNonces.from_bytes(self.services.state.consume(NONCES, nonce_id))
        except NonceReuseError:
            invalid_request("nonce_consumed", f"nonce {nonce_id} was already used; it is never used twice")
        except (VaultUnavailableError, VaultSealedError) as exc:  # decrypt comes first: the nonce is still unused
            vault_unavailable(f"{self.services.node_id} cannot reach Vault for its nonce: {type(exc).__name__}")
        except KeystoreError as exc:
            invalid_request("nonce_unavailable", f"nonce {nonce_id} unavailable: {type(exc).__name__}")

    def _authorise(self, request: FrostSignRequest | FrostBatchSignRequest) -> Intent:
        """The node's own verdict (SECURITY.md A1-A3): a valid intent for this key, epoch, digest (or, for a
        batch, exactly this list of digests in this order) and signer set, and signers that are the holders
        pinned at keygen with their identity keys."""
        refuse_if_disabled(self.services.state, request.key_id)
        meta = self.services.shares.get_meta(request.key_id)
        pinned = Pinned.from_public(meta.public)
        if pinned is not None:
            pinned.check_parties(request.signers)
        gate = self.services.intents
        intent = gate.verify(request.intent, operation="sign", key_id=request.key_id, epoch=meta.epoch,
                             policy=pinned.policy if pinned else KeyPolicy())
        if isinstance(request, FrostBatchSignRequest):  # exactly the intent's digests (roots, children), in order
            gate.expect(intent, protocol="frost", digest=None)
            expect_targets(intent, _batch_targets(request))
        else:
            gate.expect(intent, protocol="frost", taproot_merkle_root=request.taproot_merkle_root,
                        digest=request.digest, digests=None, derivation_path=request.derivation_path)
        gate.expect_signers(intent, request.signers)
        return intent

    @staticmethod
    def _taproot(tweak: bool, merkle_root: str | None, suite_name: str) -> TaprootTweak | None:
        if not tweak:
            if merkle_root is not None:
                invalid_request("invalid_signing_input", "a taproot merkle root needs the taproot tweak")
            return None
        if suite_name != "secp256k1-tr":
            invalid_request("invalid_signing_input", "a taproot tweak needs a secp256k1-tr key")
        try:
            return TaprootTweak(bytes.fromhex(merkle_root) if merkle_root else None)
        except (ValueError, InvalidInputError):
            invalid_request("invalid_signing_input", "taproot merkle root must be 32 bytes of hex")

    def _open_commitments(
        self, key_id: str, wires: list[WireMessage], roster: Roster, suite: Ciphersuite, epoch: int
    ) -> tuple[str, list[SigningCommitments]]:
        """Verify each signer's signed commitment; return own nonce id and the commitment list.

        A commitment made for an older share epoch is refused (SECURITY.md R5): a refresh or
        reshare ends every nonce of the epoch it replaced, whatever the pool still lists."""
        by_signer: dict[str, dict] = {}
        for wire in wires:
            envelope = from_wire(wire)
            try:
                payload = open_envelope(envelope, self.services.identity, roster.public(envelope.sender),
                                        ssid=commitment_ssid(key_id), protocol=COMMIT_PROTOCOL, round=1,
                                        kind="commitment")
            except EnvelopeError as exc:
                raise_envelope_error(exc)
            try:
                body = json_object(payload, max_bytes=MAX_COMMITMENT_BYTES, what="commitment")
                commitments = SigningCommitments.from_bytes(suite, bytes.fromhex(body["commitment"]))
                nonce_id = str(body["nonce_id"])
            except (ValueError, KeyError, TypeError, EncodingError, EnvelopeError):
                violation("malformed_commitment", [envelope.sender], f"bad commitment from {envelope.sender}")
            if body.get("epoch", 0) != epoch:
                invalid_request("nonce_stale", f"the commitment of {envelope.sender} is for share epoch "
                                               f"{body.get('epoch', 0)}, not the active {epoch}")
            party = roster.by_node[envelope.sender]
            if body.get("key_id") != key_id or commitments.identifier != party.party_id:
                violation("commitment_mismatch", [envelope.sender],
                          f"commitment of {envelope.sender} is for another key or identifier")
            if envelope.sender in by_signer:
                violation("duplicate_commitment", [envelope.sender], f"two commitments from {envelope.sender}")
            by_signer[envelope.sender] = {"nonce_id": nonce_id, "commitments": commitments}
        missing = sorted(set(roster.by_node) - set(by_signer))
        if missing:
            invalid_request("missing_commitments", f"no commitment from {', '.join(missing)}")
        own = by_signer[self.services.node_id]
        ordered = sorted((v["commitments"] for v in by_signer.values()), key=lambda c: c.identifier)
        return own["nonce_id"], ordered
