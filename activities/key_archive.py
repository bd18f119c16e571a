"""Archiving a key on a holder (`DELETE /v1/keys/{id}`): every share epoch and nonce erased, under an intent.

The database keeps the key's metadata, public key and address (status `archived`); the nodes keep
nothing that could sign. Like disable, it counts under the policy's `disable` quorum.
"""

from __future__ import annotations

from temporalio import activity

from activities.authorisation import Pinned, calling_workflow
from activities.frost_signing import NONCES
from activities.node_services import NodeServices, invalid_request
from mpc.intents import KeyPolicy
from mpc.keystore import KeystoreError
from mpc.protocols import Activity
from workflows.types import KeyStateCall, KeyStateResult


class KeyArchive:
    """`DELETE /v1/keys/{id}` on a holder: erase every epoch of the key's share and its nonces,
    under an `archive` intent checked against the pinned policy (its `disable` quorum)."""

    def __init__(self, services: NodeServices) -> None:
        self.services = services

    @activity.defn(name=Activity.ARCHIVE_KEY.value)
    async def archive_key(self, request: KeyStateCall) -> KeyStateResult:
        services = self.services
        if not services.shares.epochs(request.key_id):
            return KeyStateResult(services.node_id, False)  # erased already (a retry, or never held)
        try:
            meta = services.shares.get_meta(request.key_id)
        except (KeystoreError, ValueError):
            invalid_request("share_unavailable", f"no active share of key {request.key_id} on {services.node_id}")
        pinned = Pinned.from_public(meta.public)
        intent = services.intents.verify(request.intent, operation="archive", key_id=request.key_id,
                                         epoch=meta.epoch, policy=pinned.policy if pinned else KeyPolicy())
        services.intents.record(intent, workflow_id=calling_workflow(), slot="archive", session_id=request.session_id)
        services.shares.delete_key(request.key_id)
        services.state.discard_key_records(NONCES, request.key_id, 2**62)
        activity.logger.info("key archived: every share epoch erased", extra={"key_id": request.key_id})
        return KeyStateResult(services.node_id, False)
