"""The online round of a GG20 signature from a pooled presignature, on a participant: one activity.

The node checks the sign intent exactly as for any ECDSA signature (key, epoch, digest or batch item,
signers, purpose, the intent id bound once), checks that the presignature is its own, of this key, epoch
and exactly this signer set (tss.ecdsa.gg20 `_check_binding`, N5), consumes it durably (N2), and only
then answers s_i = m·k_i + r·σ_i, signed with its identity key. The coordinator combines the answers
from public data (activities/presign_pool.py), so the signature takes one hand-off per signer instead of
a hello and two protocol rounds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict

from temporalio import activity

from activities.authorisation import Pinned, calling_workflow
from activities.ecdsa_node import SealedPresignatureStore, forget_presignature, load_presignature
from activities.key_state import refuse_if_disabled
from activities.node_services import (
    NodeServices,
    Roster,
    active_share_bytes,
    canonical_request,
    digest_bytes,
    invalid_request,
    to_wire,
)
from activities.purpose import Target, check_purpose, expect_batch_item
from mpc.background import in_background
from mpc.envelope import seal
from mpc.intents import KeyPolicy
from mpc.keystore import (
    RetryMismatchError,
    ShareNotFoundError,
    one_sync,
)
from mpc.protocols import Activity
from tss.ecdsa.gg20 import Presignature, sign_share
from tss.ecdsa.keyshare import KeyShare
from tss.errors import EncodingError, InvalidInputError, NonceReuseError
from workflows.types import (
    Gg20OnlineBatchRequest,
    Gg20OnlineBatchShares,
    Gg20OnlineSignRequest,
    WireMessage,
)

log = logging.getLogger(__name__)

ONLINE_PROTOCOL = "gg20-sign-online"
ONLINE_RECORDS = "gg20-online"
MAX_BATCH_ITEMS = 256  # as the API's limit on `digests`


def online_ssid(session_id: str, key_id: str, digest: str, presig_id: str) -> bytes:
    """What a signer's answer is signed for: this session, key, digest and presignature (the coordinator
    checks it, so an answer cannot be replayed into another session)."""
    material = json.dumps([session_id, key_id, digest, presig_id], separators=(",", ":")).encode()
    return hashlib.sha256(b"mpc-signer/gg20-online/v1\x00" + material).digest()


class Gg20Online:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    @activity.defn(name=Activity.GG20_SIGN_ONLINE.value)
    async def sign(self, request: Gg20OnlineSignRequest) -> WireMessage:
        roster = Roster(request.signers, self.services.node_id)  # refuses a session this node is not part of
        raw = await self._answer_once("online", request, lambda: self._answer(request, roster), [request.presig_id])
        return WireMessage(**json.loads(raw))

    async def _answer_once(self, kind: str, request: Gg20OnlineSignRequest | Gg20OnlineBatchRequest,
                           produce: Callable[[], bytes], presig_ids: list[str]) -> bytes:
        """The session's answer, made once (every presignature consumed and the answer stored, one fsync) or
        read back on a retry (N3). Then the sealed copies the answer was made from are garbage (their
        one-time records are consumed): they go in the background, not on the way to the answer."""
        name = f"{kind}-{hashlib.sha256(request.session_id.encode()).hexdigest()[:32]}"

        def durably() -> bytes:
            with one_sync():
                try:
                    return self.services.state.answer_once(ONLINE_RECORDS, "answers", name,
                                                           canonical_request(request), produce)
                except RetryMismatchError:
                    invalid_request("round_input_changed", f"{name} was already answered for other input; refusing")

        raw = await asyncio.to_thread(durably)
        in_background(asyncio.to_thread(_forget_all, self.services, presig_ids))
        return raw

    def _answer(self, request: Gg20OnlineSignRequest, roster: Roster) -> bytes:
        digest = digest_bytes(request.digest)
        share = self._share(request.key_id)
        self._authorise(request)
        presig = self._presignature(request.presig_id, roster)
        return json.dumps(self._signed_share(request.session_id, request.key_id, request.digest, digest,
                                             request.presig_id, presig, share)).encode()

    def _presignature(self, presig_id: str, roster: Roster) -> Presignature:
        """This node's sealed presignature, made for exactly the session's signers (nothing consumed yet)."""
        try:
            presig = Presignature.from_bytes(load_presignature(self.services.state, presig_id))
        except ShareNotFoundError:
            invalid_request("presignature_unavailable", f"presignature {presig_id[:16]} is not held by "
                                                        f"{self.services.node_id}")
        except NonceReuseError as exc:
            invalid_request("nonce_consumed", str(exc))
        except EncodingError as exc:
            invalid_request("presignature_unavailable", f"presignature {presig_id[:16]} unreadable: {exc}")
        if sorted(presig.signers) != sorted(roster.by_pid):
            invalid_request("presignature_mismatch", "the presignature was made for another signer set")
        return presig

    def _signed_share(self, session_id: str, key_id: str, digest_hex: str, digest: bytes, presig_id: str,
                      presig: Presignature, share: KeyShare) -> dict[str, object]:
        """Consume the presignature durably, then s_i, signed for this session, key, digest and presignature."""
        try:
            # Binding checked (key, epoch, party), then consumed on disk before s_i exists (N5, N2).
            s_i = sign_share(presig, share, digest, SealedPresignatureStore(self.services.state), key_id=key_id)
        except NonceReuseError as exc:
            invalid_request("nonce_consumed", f"presignature {presig_id[:16]}: {exc}")
        except InvalidInputError as exc:
            invalid_request("presignature_mismatch", str(exc))
        payload = json.dumps({"presig_id": presig_id, "digest": digest_hex, "party_id": share.party_id,
                              "s": f"{s_i:064x}"}, sort_keys=True).encode()
        envelope = seal(self.services.identity, ssid=online_ssid(session_id, key_id, digest_hex, presig_id),
                        protocol=ONLINE_PROTOCOL, round=1, kind="share", payload=payload)
        return asdict(to_wire(envelope))

    # ---- a batch: one activity per signer for every pooled digest of the session ----------------------------
    @activity.defn(name=Activity.GG20_SIGN_ONLINE_BATCH.value)
    async def sign_online_batch(self, request: Gg20OnlineBatchRequest) -> Gg20OnlineBatchShares:
        roster = Roster(request.signers, self.services.node_id)
        raw = await self._answer_once("online-batch", request, lambda: self._answer_batch(request, roster),
                                      [item.presig_id for item in request.items])
        return Gg20OnlineBatchShares(self.services.node_id, [WireMessage(**m) for m in json.loads(raw)])

    def _answer_batch(self, request: Gg20OnlineBatchRequest, roster: Roster) -> bytes:
        """Every check of every item first (digests, the intent's digest at each index, each presignature held
        and made for these signers); then each presignature is consumed and its s_i made."""
        items = request.items
        if not 1 <= len(items) <= MAX_BATCH_ITEMS:
            invalid_request("invalid_batch", f"a batch holds 1 to {MAX_BATCH_ITEMS} digests")
        if len({item.index for item in items}) != len(items) or len({item.presig_id for item in items}) != len(items):
            invalid_request("invalid_batch", "each digest of a batch once, each with its own presignature")
        digests = [digest_bytes(item.digest) for item in items]
        share = self._share(request.key_id)
        self._authorise(request)
        presigs = [self._presignature(item.presig_id, roster) for item in items]
        return json.dumps([self._signed_share(f"{request.session_id}.{item.index}", request.key_id, item.digest,
                                              digest, item.presig_id, presig, share)
                           for item, digest, presig in zip(items, digests, presigs, strict=True)]).encode()

    def _share(self, key_id: str) -> KeyShare:
        return KeyShare.from_bytes(active_share_bytes(self.services, key_id))

    def _authorise(self, request: Gg20OnlineSignRequest | Gg20OnlineBatchRequest) -> None:
        """The same verdict as for every ECDSA signature (activities/participant_rounds.py), then the intent
        id bound to this workflow and signer set, once per digest (SECURITY.md A1-A3). A batch's every item
        must be the intent's digest at its index."""
        services = self.services
        refuse_if_disabled(services.state, request.key_id)
        meta = services.shares.get_meta(request.key_id)
        pinned = Pinned.from_public(meta.public)
        if pinned is not None:
            pinned.check_parties(request.signers)
        gate = services.intents
        intent = gate.verify(request.intent, operation="sign", key_id=request.key_id, epoch=meta.epoch,
                             policy=pinned.policy if pinned else KeyPolicy())
        items: list[tuple[str, int | None, str]]
        if isinstance(request, Gg20OnlineBatchRequest):
            items = [(f"{request.session_id}.{item.index}", item.index, item.digest) for item in request.items]
        else:
            items = [(request.session_id, request.batch_index, request.digest)]
        for _, index, digest in items:
            if index is None:
                gate.expect(intent, protocol="gg20", digest=digest, derivation_path=None)
            else:
                gate.expect(intent, protocol="gg20", digest=None)
                expect_batch_item(intent, index, Target(digest, None, None))
        check_purpose(services, request.key_id, intent, family="ecdsa", curve="secp256k1")
        gate.expect_signers(intent, request.signers)
        signer_set = ",".join(sorted(p.node_id for p in request.signers))
        for session_id, index, _ in items:
            # The same slot as a driven GG20 online round: one online signature per signer set and digest.
            slot = "gg20-sign" + ("" if index is None else f"#{index}") + ":" + signer_set
            gate.record(intent, workflow_id=calling_workflow(), slot=slot, session_id=session_id)


def _forget_all(services: NodeServices, presig_ids: list[str]) -> None:
    try:
        for presig_id in presig_ids:
            forget_presignature(services.state, presig_id)
    except Exception as exc:  # a leftover copy is harmless: its one-time record is consumed
        log.warning("could not remove used presignature copies: %s", type(exc).__name__)
