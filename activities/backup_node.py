"""A participant's part of a backup: its public `.meta` files, and (with escrow) its share encrypted to the
offline recovery key.

`.meta` files are the non-secret copy of each share's header (key id, node, epoch, public package, pinned
roster and policy): no share, nonce or presignature ever leaves through `collect_meta` (DESIGN.md rule 6).
An escrowed share leaves only HPKE-encrypted to the recovery key that the `export` intent names; the node
checks that intent itself (the API's signature, the pinned `export` quorum, key, epoch, recipient and
backup), records it once, and binds key id, epoch, node and party id into the encryption.
"""

from __future__ import annotations

import asyncio
import base64

from temporalio import activity

from activities.authorisation import Pinned, calling_workflow
from activities.node_services import NodeServices, invalid_request
from mpc.backup.escrow import EscrowContext, EscrowError, recipient_hex, seal_share
from mpc.intents import KeyPolicy
from mpc.keystore import KeystoreError
from mpc.protocols import Activity
from workflows.backup_types import BackupFile, CollectMetaPage, CollectMetaRequest, EscrowShareRequest


class BackupNode:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    @activity.defn(name=Activity.BACKUP_COLLECT_META.value)
    async def collect_meta(self, request: CollectMetaRequest) -> CollectMetaPage:
        """One page of `meta/<key_id>/epoch-<n>.meta` files, in path order after `request.after`."""
        return await asyncio.to_thread(self._page, request)

    def _page(self, request: CollectMetaRequest) -> CollectMetaPage:
        root = self.services.shares.root
        paths = sorted(f"meta/{p.parent.name}/{p.name}" for p in root.glob("*/epoch-*.meta")
                       if not p.parent.name.startswith("."))
        files: list[BackupFile] = []
        size = 0
        for rel in (p for p in paths if p > request.after):
            _, key_id, name = rel.split("/")
            try:
                content = (root / key_id / name).read_bytes()
            except FileNotFoundError:  # retired while we listed
                continue
            if files and size + len(content) > request.max_bytes:
                return CollectMetaPage(self.services.node_id, files, more=True)
            files.append(BackupFile(rel, base64.b64encode(content).decode()))
            size += len(content)
        return CollectMetaPage(self.services.node_id, files, more=False)

    @activity.defn(name=Activity.BACKUP_ESCROW_SHARE.value)
    async def escrow_share(self, request: EscrowShareRequest) -> BackupFile:
        return await asyncio.to_thread(self._escrow, request, calling_workflow())

    def _escrow(self, request: EscrowShareRequest, workflow_id: str) -> BackupFile:
        services = self.services
        try:
            meta = services.shares.get_meta(request.key_id)
        except (KeystoreError, ValueError):
            invalid_request("share_unavailable", f"no share of key {request.key_id} on {services.node_id}")
        if meta.epoch != request.epoch:
            invalid_request("epoch_mismatch", f"{services.node_id} holds epoch {meta.epoch} of {request.key_id}, "
                                              f"not {request.epoch}")
        try:
            recipient = recipient_hex(request.recipient)
        except EscrowError as exc:
            invalid_request("invalid_recipient", str(exc))
        pinned = Pinned.from_public(meta.public)
        gate = services.intents
        intent = gate.verify(request.intent, operation="export", key_id=request.key_id, epoch=meta.epoch,
                             policy=pinned.policy if pinned else KeyPolicy())
        gate.expect(intent, recipient=recipient, backup_id=request.backup_id)
        holders = intent.details.get("holders")
        if not isinstance(holders, list) or services.node_id not in holders:
            invalid_request("intent_mismatch", f"the export intent does not name {services.node_id} as a holder")
        party_id = next((int(e["party_id"]) for e in (pinned.roster if pinned else ())
                         if e.get("node_id") == services.node_id), 0)
        gate.record(intent, workflow_id=workflow_id, slot=f"export:{services.node_id}", session_id=request.backup_id)
        try:
            record = services.shares.open_share(request.key_id, meta.epoch)
        except KeystoreError as exc:
            invalid_request("share_unavailable", f"{services.node_id} cannot read its share of {request.key_id}: "
                                                 f"{type(exc).__name__}")
        context = EscrowContext(request.key_id, meta.epoch, services.node_id, party_id)
        sealed = seal_share(record.secret, recipient, context)
        return BackupFile(f"escrow/{request.key_id}.json", base64.b64encode(sealed).decode())
