"""The API's part of a backup (task queue `mpc-api`): the work that needs its intent key.

- `export_intents`: with BACKUP_RECOVERY_PUBLIC_KEY set in the API's settings, one `export` intent per key,
  naming the recovery key, the backup and the holders. The recipient comes from the API's own
  configuration, never from the workflow: a coordinator cannot have shares encrypted to a key of its
  choosing. A key whose pinned policy puts `export` under a human quorum is skipped by a scheduled run
  (nobody is there to approve); the manifest says so.
- `sign_manifest`: the API signs MANIFEST_TAG || backup id || SHA-256(manifest) for a backup that is
  recorded and running, once per backup (the digest is recorded first; another digest is refused).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from api.errors import ApiError
from api.intent_issuer import issue
from api.state import AppState
from mpc.backup.escrow import recipient_hex
from mpc.backup.manifest import signed_message
from mpc.db.models import Backup, Key
from mpc.intent_keys import IntentKeyError
from mpc.intents import KeyPolicy
from mpc.protocols import Activity
from workflows.backup import STEP_FAILED
from workflows.backup_types import (
    ExportIntents,
    ExportIntentsInput,
    KeyExportIntent,
    ManifestDigest,
    ManifestSignatureResult,
)


def _refused(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, {"code": code}, type=STEP_FAILED, non_retryable=True)


class BackupSigning:
    def __init__(self, state: AppState) -> None:
        self.state = state

    @activity.defn(name=Activity.BACKUP_EXPORT_INTENTS.value)
    async def export_intents(self, request: ExportIntentsInput) -> ExportIntents:
        settings = self.state.settings
        if not settings.backup_recovery_public_key:
            return ExportIntents(recipient="")
        recipient = recipient_hex(settings.backup_recovery_public_key)
        async with self.state.sessions() as db:
            if await db.get(Backup, request.backup_id) is None:
                raise _refused("unknown_backup", f"backup {request.backup_id} is not recorded")
            rows = {k.key_id: k for k in (await db.execute(
                select(Key).where(Key.key_id.in_([k.key_id for k in request.keys])))).scalars()}
        out = ExportIntents(recipient)
        for wanted in request.keys:
            key = rows.get(wanted.key_id)
            if key is None or key.epoch != wanted.epoch or list(key.participants) != wanted.holders:
                out.intents.append(KeyExportIntent(wanted.key_id, wanted.epoch, wanted.holders,
                                                   skipped="the key changed during the backup"))
                continue
            needed = KeyPolicy.from_dict((key.public_data or {}).get("policy")).required("export")
            if needed:
                out.intents.append(KeyExportIntent(key.key_id, key.epoch, wanted.holders,
                                                   skipped=f"export needs {needed} approver(s)"))
                continue
            try:
                intent = await issue(self.state.intent_signer, operation="export", key_id=key.key_id,
                                     epoch=key.epoch, ttl=settings.intent_ttl,
                                     details={"recipient": recipient, "backup_id": request.backup_id,
                                              "holders": list(wanted.holders)})
            except ApiError as exc:  # Vault cannot sign now: retried
                raise ApplicationError(exc.message, {"code": exc.code}, type="IntentKeyUnavailable") from None
            out.intents.append(KeyExportIntent(key.key_id, key.epoch, list(wanted.holders), recipient, intent))
        return out

    @activity.defn(name=Activity.BACKUP_SIGN_MANIFEST.value)
    async def sign_manifest(self, request: ManifestDigest) -> ManifestSignatureResult:
        if len(request.manifest_sha256) != 64:
            raise _refused("invalid_digest", "a manifest digest is 64 hex characters")
        async with self.state.sessions() as db:
            row = await db.get(Backup, request.backup_id, with_for_update=True)
            if row is None or row.status != "running":
                raise _refused("unknown_backup", f"backup {request.backup_id} is not running")
            if row.manifest_sha256 not in (None, request.manifest_sha256):
                raise _refused("manifest_signed", f"backup {request.backup_id} already has a signed manifest")
            row.manifest_sha256 = request.manifest_sha256
            await db.commit()
        signer = self.state.intent_signer
        message = signed_message(request.backup_id, request.manifest_sha256)
        try:
            public_key = (await asyncio.to_thread(lambda: signer.public_keys))[0]
            signature = await asyncio.to_thread(signer.sign, message)
        except IntentKeyError as exc:
            raise ApplicationError(str(exc), {"code": "intent_key_unavailable"}, type="IntentKeyUnavailable") \
                from None
        return ManifestSignatureResult(public_key, signature)
