"""Recovery from escrow through the API: `POST /v1/keys/{id}/recover`, sent by `mpc recover --from-escrow`.

The operator's offline command dealt new shares of the key (same public key) and sealed each to its new
holder's identity key; the body carries only public data and those ciphertexts, plus the backup set's signed
manifest. The API checks what it can (the manifest is signed by its own intent key and lists this key with
its group key and policy; the new committee is admitted and online; party ids stay with their nodes; the new
package is consistent, of the same group key, the new committee and threshold, and epoch + 1; for a GG18/GG20
key the staged sharing's package, whose shares t' new holders then reshare into key shares), names it all in a
`recover` intent (the key's `reshare` quorum applies) and starts RecoverWorkflow. Every node checks the
intent, the manifest and its share again itself (activities/recover_node.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api import idempotency
from api.auth import Principal
from api.errors import ApiError
from api.intent_issuer import issue
from api.orchestration import (
    ClientFactory,
    Started,
    _existing,
    commit_then_start,
    online_nodes,
    party_ids_of,
    party_of,
    policy_from,
    workflow_id_for,
)
from api.reshare import _refuse_concurrent
from mpc.backup.manifest import BackupSetError, Manifest, ManifestSignature, signed_message
from mpc.backup.recovered_share import MAX_SEALED_BYTES, SealedShareError, sealed_digest
from mpc.db.models import Admission, AuditLog, Key, Node, SigningSession
from mpc.hd import key_chain_code
from mpc.intent_keys import IntentSigner
from mpc.intents import KeyPolicy, verify_ed25519
from mpc.protocols import KEY_PROTOCOLS, Family
from mpc.settings import Settings
from workflows.recover import RecoverWorkflow
from workflows.recover_types import RECOVER_PROTOCOL, RecoverRequest
from workflows.reshare import phase_two_budget
from workflows.search import initial_attributes
from workflows.types import Party, roster_of

MAX_NODES = 255
MAX_MANIFEST_B64 = 16 * 1024 * 1024


class RecoverHolder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(max_length=128)
    party_id: int = Field(ge=1, le=MAX_NODES, description="kept by a node that holds one; the next free id otherwise")


class RecoverCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup_id: str = Field(max_length=128, description="the backup set the escrowed shares came from")
    manifest: str = Field(max_length=MAX_MANIFEST_B64, description="the set's manifest.json, base64")
    manifest_signature: str = Field(max_length=4096, description="the set's manifest.sig (its JSON text)")
    threshold: int = Field(ge=2, le=MAX_NODES, description="the new threshold t'")
    holders: list[RecoverHolder] = Field(min_length=2, max_length=MAX_NODES, description="the new committee")
    package: dict[str, Any] = Field(description="the new public key package (same group key, epoch + 1)")
    shares: dict[str, str] = Field(description="node id -> its new share sealed to its X25519 identity key, base64")
    reason: str | None = Field(default=None, max_length=500)


def _invalid(code: str, message: str, **extra: Any) -> ApiError:
    return ApiError(422, code, message, **extra)


def _manifest(body: RecoverCreate, signer: IntentSigner) -> tuple[Manifest, str]:
    try:
        raw = base64.b64decode(body.manifest, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("invalid_value", "manifest is the set's manifest.json in base64", field="manifest") from None
    try:
        manifest, signature = Manifest.parse(raw), ManifestSignature.parse(body.manifest_signature.encode())
    except BackupSetError as exc:
        raise _invalid("invalid_manifest", str(exc)) from None
    except UnicodeEncodeError:  # a lone surrogate from JSON's \ud800 escapes
        raise _invalid("invalid_manifest", "manifest.sig is not text") from None
    digest = hashlib.sha256(raw).hexdigest()
    if signature.public_key.lower() not in [k.lower() for k in signer.public_keys]:
        raise _invalid("invalid_manifest", "the manifest is not signed by this API's intent key")
    if not verify_ed25519(signature.public_key, signed_message(manifest.backup_id, digest), signature.signature):
        raise _invalid("invalid_manifest", "the manifest's signature does not verify")
    if manifest.backup_id != body.backup_id:
        raise _invalid("invalid_manifest", f"the manifest belongs to set {manifest.backup_id}")
    return manifest, digest


async def _committee(db: AsyncSession, settings: Settings, key: Key, body: RecoverCreate) -> list[Party]:
    nodes = [h.node_id for h in body.holders]
    if len(set(nodes)) != len(nodes) or len({h.party_id for h in body.holders}) != len(nodes):
        raise _invalid("validation_error", "holders and their party ids must be distinct", field="holders")
    if body.threshold > len(nodes):
        raise _invalid("invalid_threshold", f"threshold {body.threshold} exceeds the {len(nodes)} holders",
                       field="threshold")
    rows = {n: await db.get(Node, n) for n in nodes}
    unknown = [n for n, row in rows.items() if row is None]
    if unknown:
        raise _invalid("unknown_nodes", f"unknown nodes: {', '.join(unknown)}", nodes=unknown)
    pending = [n for n, row in rows.items() if row is not None and row.admission != Admission.ADMITTED]
    if pending:
        raise ApiError(409, "node_not_admitted", f"nodes not admitted by an admin: {', '.join(pending)}", nodes=pending)
    online = await online_nodes(db, settings)
    offline = [n for n in nodes if n not in online]
    if offline:
        raise ApiError(409, "nodes_offline", f"new holders must be online: {', '.join(offline)}", nodes=offline)
    current = party_ids_of(key)
    for holder in body.holders:
        kept = current.get(holder.node_id)
        if (kept is not None and kept != holder.party_id) or (kept is None and holder.party_id in current.values()):
            raise ApiError(409, "party_ids_changed", f"party id {holder.party_id} of {holder.node_id} is not the one "
                                                     "the key gives it (the key changed since the backup?)")
    return sorted((party_of(online[h.node_id], h.party_id) for h in body.holders), key=lambda p: p.party_id)


def _check_package(key: Key, body: RecoverCreate, parties: list[Party]) -> None:
    """The dealt package: FROST, the new public key package; GG18/GG20, the staged sharing's (tss.ecdsa.staging)."""
    from tss.ecdsa.staging import StagingPackage
    from tss.errors import EncodingError, InvalidInputError
    from tss.frost import PublicKeyPackage

    try:
        if KEY_PROTOCOLS[key.protocol].family == Family.FROST:
            frost = PublicKeyPackage.from_dict(body.package)
            threshold, participants, epoch = frost.threshold, frost.participants, frost.epoch
        else:
            staged = StagingPackage.from_dict(body.package)
            threshold, participants, epoch = staged.threshold, list(staged.party_ids), staged.epoch
    except (EncodingError, InvalidInputError, ValueError, TypeError, AttributeError):
        raise _invalid("invalid_package", f"the package is malformed, not one polynomial through the group key, or "
                                          f"not of a {key.protocol} key's recovery", field="package") from None
    current = (key.public_data or {}).get("package") or {}
    if body.package.get("group_public_key") != current.get("group_public_key"):
        raise _invalid("invalid_package", "the package's group key is not the key's", field="package")
    if threshold != body.threshold or participants != [p.party_id for p in parties]:
        raise _invalid("invalid_package", "the package is not of the new committee and threshold", field="package")
    if epoch != key.epoch + 1:
        raise ApiError(409, "epoch_changed", f"the package starts epoch {epoch}; the key is at {key.epoch}, so "
                                             f"a recovery starts {key.epoch + 1}")


def _share_digests(body: RecoverCreate, parties: list[Party]) -> dict[str, str]:
    if set(body.shares) != {p.node_id for p in parties}:
        raise _invalid("invalid_value", "shares holds exactly one sealed share per new holder", field="shares")
    digests = {}
    for node, sealed in body.shares.items():
        if len(sealed) > MAX_SEALED_BYTES * 2:
            raise _invalid("invalid_value", f"the sealed share of {node} is too large", field="shares")
        try:
            digests[node] = sealed_digest(sealed)
        except SealedShareError as exc:
            raise _invalid("invalid_value", f"{node}: {exc}", field="shares") from None
    return digests


async def start_recovery(db: AsyncSession, client_factory: ClientFactory, settings: Settings, principal: Principal,
                         key_id: str, body: RecoverCreate, idempotency_key: str | None, *,
                         signer: IntentSigner) -> Started:
    key = await db.get(Key, key_id, with_for_update=True)  # until committed: one change of the committee at a time
    if key is None:
        raise ApiError(404, "key_not_found", f"key {key_id} does not exist")
    session_id = str(uuid.uuid4())
    workflow_id = workflow_id_for("recover", principal, idempotency_key, session_id, scope=key_id)
    if idempotency_key and (row := await _existing(db, workflow_id)) is not None:
        await idempotency.refuse_changed_request(db, row, body)
        return Started(row.session_id, key_id, workflow_id, None, replayed=True)
    if key.status != "active":
        raise ApiError(409, "key_not_active", f"key {key_id} is {key.status}; only an active key is recovered")
    await _refuse_concurrent(db, key_id)
    manifest, manifest_sha256 = _manifest(body, signer)
    entry = manifest.key(key_id)
    if entry is None:
        raise _invalid("key_not_in_backup", f"backup {body.backup_id} does not list key {key_id}")
    data = key.public_data or {}
    if (entry.get("package") or {}).get("group_public_key") != (data.get("package") or {}).get("group_public_key"):
        raise ApiError(409, "key_mismatch", f"backup {body.backup_id} lists another group key for {key_id}")
    policy = KeyPolicy.from_dict(data.get("policy"))
    if KeyPolicy.from_dict(entry.get("policy")).to_dict() != policy.to_dict():
        raise ApiError(409, "key_mismatch", f"backup {body.backup_id} lists another policy for {key_id}")
    new_parties = await _committee(db, settings, key, body)
    _check_package(key, body, new_parties)
    digests = _share_digests(body, new_parties)

    online = await online_nodes(db, settings)
    pids = party_ids_of(key)
    old_parties = [party_of(online[n], pids[n]) for n in key.participants if n in online]
    unreachable = [n for n in key.participants if n not in online]
    needed = policy.required("recover")
    waits_for = settings.approval_timeout if needed else 0.0
    # GG18/GG20: the dealt shares are staged; t' new holders deal from them in the key protocol's recovery session.
    staged_by = KEY_PROTOCOLS[key.protocol].recover
    dealers = new_parties[: body.threshold] if staged_by is not None else []
    details: dict[str, Any] = {
        "key_protocol": key.protocol, "backup_id": body.backup_id, "manifest_sha256": manifest_sha256,
        "old_roster": data.get("roster") or roster_of(old_parties),
        "old_package": data.get("package"), "new_roster": roster_of(new_parties), "new_threshold": body.threshold,
        "policy": policy.to_dict(), "package": body.package, "shares": digests, "reason": body.reason,
        # What the new shares pin besides the policy, as a reshare's do: every node compares them.
        "chain_type": key.chain_type, "chain_code": key_chain_code(key.public_data),
    }
    if staged_by is not None:
        details |= {"protocol": staged_by.value, "dealers": [p.party_id for p in dealers]}
    intent = await issue(signer, operation="recover", key_id=key_id, epoch=key.epoch,
                         ttl=settings.intent_ttl + waits_for, details=details)
    involved = sorted({*(p.node_id for p in new_parties), *(p.node_id for p in old_parties)})
    db.add(SigningSession(session_id=session_id, key_id=key_id, workflow_id=workflow_id, operation="recover",
                          protocol=key.protocol, status="pending", participants=involved))
    db.add(AuditLog(actor=principal.name, action="key.recover_request", resource_type="key", resource_id=key_id,
                    session_id=session_id, status="accepted",
                    details={"reason": body.reason, "threshold": body.threshold, "backup_id": body.backup_id,
                             "nodes": [p.node_id for p in new_parties], "unreachable_holders": unreachable,
                             idempotency.FINGERPRINT: idempotency.request_fingerprint(body)}))
    await db.flush()
    request = RecoverRequest(
        session_id=session_id, key_id=key_id, operation="recover",
        protocol=staged_by.value if staged_by is not None else RECOVER_PROTOCOL,
        key_protocol=key.protocol, curve=key.curve, epoch=key.epoch, dealers=dealers, new_parties=new_parties,
        new_threshold=body.threshold, old_holders=old_parties, intent=intent, policy=policy_from(settings),
        requested_by=principal.name, reason=body.reason, pool_target=settings.nonce_pool_target,
        approvals_needed=needed, approval_timeout_seconds=settings.approval_timeout, backup_id=body.backup_id,
        manifest=body.manifest, manifest_signature=body.manifest_signature, sealed_shares=dict(body.shares),
        unreachable_holders=unreachable)
    attributes = initial_attributes(key_id=key_id, protocol=key.protocol, curve=key.curve, chain=key.chain_type,
                                    operation="recover")
    budget = waits_for + phase_two_budget(settings.round_timeout, len(old_parties))
    handle = await commit_then_start(db, client_factory, settings, RecoverWorkflow.run, request, workflow_id,
                                     attributes, session_id=session_id, waits_for=budget)
    return Started(session_id, key_id, workflow_id, handle, replayed=False)

