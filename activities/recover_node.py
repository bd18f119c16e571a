"""A new holder's import of a share recovered from escrow (phase one of workflows/recover.py).

The share was dealt by the operator's offline recovery command and sealed to this node's X25519 identity
key. Before the node stores anything it checks, itself:

- the `recover` intent: the API's signature, expiry, and the quorum of the key's policy (a node that still
  holds the key counts its own pinned policy, and the intent's old roster, policy and package must be what it
  sealed; a new node counts the intent's policy, which must be the one the signed manifest lists);
- the backup manifest: its SHA-256 is the intent's, it carries a signature of a trusted API intent key, and
  its entry for the key names the same protocol, group key, policy, chain and chain code as the intent (a set
  written before chain codes were listed: the chain only);
- its own roster entry (node id, both identity keys are its own), the new committee and threshold;
- the sealed share: its digest is the one the intent names for this node, its context (key, epoch + 1,
  node, party id, group key) is bound in the HPKE key schedule, and the decrypted share is consistent with
  the new public package (s_i·G = X_i; every X_j on one degree t'-1 polynomial through the group key).

Only then does it record the intent (once, durably) and store the share *inactive* at epoch + 1, with the
new roster, threshold and policy pinned: the reshare's phase two (ACK, test signature, activation) follows
unchanged. A GG18/GG20 key's share is a *staged* share instead (tss.ecdsa.staging), checked the same way against
the staged package and kept apart from the key's shares (activities/recover_staging.py) until the recovery's
`gg20-recover` session turns it into a complete key share. A refusal names no node and changes nothing; a retry
with the same input returns the same answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidTag
from temporalio import activity

from activities.authorisation import Pinned, calling_workflow
from activities.key_state import refuse_if_disabled
from activities.node_services import NodeServices, invalid_request
from activities.recover_staging import StagedRecord, load_staged, put_staged
from activities.reshare_authorisation import _claimed_policy, new_pinned
from mpc.backup.escrow import HPKE_SUITE
from mpc.backup.manifest import BackupSetError, Manifest, ManifestSignature, signed_message
from mpc.backup.recovered_share import RecoveredShareContext, SealedShare, SealedShareError
from mpc.intents import Intent, KeyPolicy, verify_ed25519
from mpc.keystore import KeystoreError
from mpc.protocols import KEY_PROTOCOLS, Activity, Family
from mpc.reshare_digests import recover_ack_digest
from tss.ecdsa.staging import StagedShare, StagingPackage
from tss.errors import EncodingError, InvalidInputError
from tss.frost import KeyShare, PublicKeyPackage
from workflows.recover_types import ImportShareInput, ImportShareResult
from workflows.types import roster_of

MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        invalid_request("invalid_parameters", f"the {what} is not base64")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class RecoverNode:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    @activity.defn(name=Activity.RECOVER_IMPORT.value)
    async def import_share(self, request: ImportShareInput) -> ImportShareResult:
        return await asyncio.to_thread(self._import, request, calling_workflow())

    def _import(self, request: ImportShareInput, workflow_id: str) -> ImportShareResult:
        services, key_id, epoch = self.services, request.key_id, request.epoch
        new_epoch = epoch + 1
        try:
            active = services.shares.active_epoch(key_id)
            holds = active == epoch and services.shares.has_share(key_id, epoch)
        except KeystoreError:
            invalid_request("share_unavailable", f"{services.node_id} cannot read its share records of {key_id}")
        if active is not None and active not in (epoch, new_epoch):
            invalid_request("epoch_mismatch", f"{services.node_id} holds epoch {active} of {key_id}, the recovery "
                                              f"replaces epoch {epoch}")
        pinned, own_package = None, None
        if holds:
            refuse_if_disabled(services.state, key_id)
            meta = services.shares.get_meta(key_id, epoch)
            pinned, own_package = Pinned.from_public(meta.public), meta.public.get("package")
        policy = pinned.policy if pinned is not None else _claimed_policy(request.intent)
        intent = services.intents.verify(request.intent, operation="recover", key_id=key_id, epoch=epoch,
                                         policy=policy)
        details = intent.details
        package_dict = details.get("package")
        if not isinstance(package_dict, dict):
            invalid_request("intent_mismatch", "the recover intent names no public key package")
        services.intents.expect(intent, backup_id=request.backup_id, new_threshold=request.new_threshold,
                                new_roster=roster_of(request.new_parties))
        family = self._check_manifest(request, intent, package_dict)
        if pinned is not None:
            if details.get("old_roster") != [dict(e) for e in pinned.roster]:
                invalid_request("roster_mismatch", "the intent's old roster is not the one pinned with this share")
            if details.get("policy") != pinned.policy.to_dict():
                invalid_request("intent_mismatch", "a recovery keeps the key's pinned policy")
            # The chain code and purpose go with the key, as through a reshare.
            if details.get("chain_code") != pinned.chain_code or \
                    (pinned.chain_type is not None and details.get("chain_type") != pinned.chain_type):
                invalid_request("intent_mismatch", "a recovery keeps the key's pinned chain and chain code")
            if details.get("old_package") != own_package or \
                    (own_package or {}).get("group_public_key") != package_dict.get("group_public_key"):
                invalid_request("intent_mismatch", "the recovery names another group key or package than this "
                                                   "node's share")
        me = next((p for p in request.new_parties if p.node_id == services.node_id), None)
        mine = services.identity.public()
        if me is None or (me.signing_public_key, me.encryption_public_key) != (mine.ed25519, mine.x25519):
            invalid_request("roster_mismatch", f"{services.node_id} is not in the new committee with its own "
                                               "identity keys")
        sealed_raw = _b64(request.sealed_share, "sealed share")
        if (details.get("shares") or {}).get(services.node_id) != hashlib.sha256(sealed_raw).hexdigest():
            invalid_request("intent_mismatch", f"the sealed share is not the one the intent names for "
                                               f"{services.node_id}")
        if family == Family.ECDSA:
            return self._stage(request, intent, package_dict, sealed_raw, me.party_id, mine.x25519, workflow_id)
        package = self._package(package_dict, request, new_epoch)
        ack_digest = recover_ack_digest(request.session_id, key_id, new_epoch, _canonical(package_dict))
        plain = self._open(sealed_raw, key_id, new_epoch, me.party_id, package_dict, mine.x25519)
        try:
            try:
                share = KeyShare.from_bytes(bytes(plain))
            except (EncodingError, InvalidInputError, ValueError):
                invalid_request("invalid_share", "the recovered share does not match its verifying share")
            if share.identifier != me.party_id or share.public != package:
                invalid_request("invalid_share", "the recovered share belongs to another party or package")
            if self._already_imported(key_id, new_epoch, ack_digest):
                return ImportShareResult(services.node_id, package_dict, ack_digest)
            services.intents.record(intent, workflow_id=workflow_id, slot=f"recover:{services.node_id}",
                                    session_id=request.session_id)
            services.shares.put_share(key_id, new_epoch, bytes(plain), activate=False,
                                      public={"package": package_dict, "ack_digest": ack_digest,
                                              "pinned": new_pinned(intent), "recovered_from": request.backup_id})
        finally:
            plain[:] = bytes(len(plain))
        activity.logger.info("recovered share stored inactive", extra={"key_id": key_id, "epoch": new_epoch})
        return ImportShareResult(services.node_id, package_dict, ack_digest)

    def _stage(self, request: ImportShareInput, intent: Intent, package_dict: dict[str, Any], sealed_raw: bytes,
               party_id: int, my_x25519: str, workflow_id: str) -> ImportShareResult:
        """A GG18/GG20 key: the sealed share is a staged share (tss.ecdsa.staging), checked against the staged
        package like a FROST share against its package, and kept apart from the key's shares: it never signs,
        only the `gg20-recover` session of this same intent deals from it (activities/recover_staging.py)."""
        services, key_id, new_epoch = self.services, request.key_id, request.epoch + 1
        try:
            package = StagingPackage.from_dict(package_dict)  # validates: one degree t'-1 polynomial through Y
        except (EncodingError, InvalidInputError, ValueError):
            invalid_request("invalid_package", "the recovery's staged package is malformed or inconsistent")
        if package.threshold != request.new_threshold or package.epoch != new_epoch or \
                list(package.party_ids) != sorted(p.party_id for p in request.new_parties):
            invalid_request("invalid_package", "the staged package is not of the new committee, threshold and epoch")
        if services.shares.active_epoch(key_id) == new_epoch:
            invalid_request("stale_step", f"{key_id} is already active at epoch {new_epoch} on this node")
        digest = recover_ack_digest(request.session_id, key_id, new_epoch, _canonical(package_dict))
        plain = self._open(sealed_raw, key_id, new_epoch, party_id, package_dict, my_x25519)
        try:
            try:
                share = StagedShare.from_bytes(bytes(plain))
            except (EncodingError, InvalidInputError, ValueError):
                invalid_request("invalid_share", "the staged share does not match its public share")
            if share.party_id != party_id or share.package != package:
                invalid_request("invalid_share", "the staged share belongs to another party or package")
            held = load_staged(services.state, key_id, new_epoch)
            if held is None or held.intent_id != intent.intent_id:  # else a retry: the same intent names one share
                services.intents.record(intent, workflow_id=workflow_id, slot=f"recover:{services.node_id}",
                                        session_id=request.session_id)
                put_staged(services.state, key_id, new_epoch,
                           StagedRecord(intent.intent_id, request.session_id, package_dict, bytes(plain)))
        finally:
            plain[:] = bytes(len(plain))
        activity.logger.info("recovered share staged", extra={"key_id": key_id, "epoch": new_epoch})
        return ImportShareResult(services.node_id, package_dict, digest)

    def _check_manifest(self, request: ImportShareInput, intent: Intent, package: dict[str, Any]) -> Family:
        """The backup set the recovery comes from: signed by a trusted API key, listing this key (of the intent's
        protocol) with the intent's group key and policy. Returns the key's family."""
        raw = _b64(request.manifest, "manifest")
        if len(raw) > MAX_MANIFEST_BYTES or hashlib.sha256(raw).hexdigest() != intent.details.get("manifest_sha256"):
            invalid_request("intent_mismatch", "the manifest is not the one the recover intent names")
        try:
            signature = ManifestSignature.parse(request.manifest_signature.encode())
            manifest = Manifest.parse(raw)
        except BackupSetError as exc:
            invalid_request("invalid_manifest", str(exc))
        trusted, signer = self.services.intents.trusted, signature.public_key.lower()
        if signer not in trusted.keys() and signer not in trusted.keys(refresh=True):  # noqa: SIM118 (a method)
            invalid_request("unauthorized", "the manifest is not signed by an API intent key this node trusts")
        digest = hashlib.sha256(raw).hexdigest()
        if manifest.backup_id != request.backup_id or \
                not verify_ed25519(signature.public_key, signed_message(manifest.backup_id, digest),
                                   signature.signature):
            invalid_request("invalid_manifest", "the manifest's signature does not verify")
        entry = manifest.key(request.key_id)
        if entry is None or entry.get("protocol") not in KEY_PROTOCOLS:
            invalid_request("invalid_manifest", f"the manifest lists no key {request.key_id}")
        if intent.details.get("key_protocol") != entry["protocol"]:
            invalid_request("intent_mismatch", "the recovery names another protocol than the signed manifest")
        if (entry.get("package") or {}).get("group_public_key") != package.get("group_public_key"):
            invalid_request("intent_mismatch", "the recovery names another group key than the signed manifest")
        if KeyPolicy.from_dict(entry.get("policy")).to_dict() != intent.details.get("policy"):
            invalid_request("intent_mismatch", "the recovery names another policy than the signed manifest")
        if intent.details.get("chain_type") != entry.get("chain_type") or \
                ("chain_code" in entry and intent.details.get("chain_code") != entry["chain_code"]):
            invalid_request("intent_mismatch", "the recovery names another chain or chain code than the signed "
                                               "manifest")
        return KEY_PROTOCOLS[str(entry["protocol"])].family

    @staticmethod
    def _package(package_dict: dict[str, Any], request: ImportShareInput, new_epoch: int) -> PublicKeyPackage:
        try:
            package = PublicKeyPackage.from_dict(package_dict)  # validates: one degree t'-1 polynomial through Y
        except (EncodingError, InvalidInputError, ValueError):
            invalid_request("invalid_package", "the recovery's public key package is malformed or inconsistent")
        if package.threshold != request.new_threshold or package.epoch != new_epoch or \
                package.participants != sorted(p.party_id for p in request.new_parties):
            invalid_request("invalid_package", "the public key package is not of the new committee, threshold "
                                               "and epoch")
        return package

    def _open(self, sealed_raw: bytes, key_id: str, new_epoch: int, party_id: int, package: dict[str, Any],
              my_x25519: str) -> bytearray:
        node_id = self.services.node_id
        try:
            sealed = SealedShare.parse(sealed_raw)
        except SealedShareError as exc:
            invalid_request("invalid_share", str(exc))
        expected = RecoveredShareContext(key_id, new_epoch, node_id, party_id, str(package.get("group_public_key")))
        if sealed.context != expected or sealed.recipient != my_x25519:
            invalid_request("invalid_share", f"the sealed share is for another key, epoch, party or node than "
                                             f"{node_id}")
        try:
            return self.services.identity.hpke_open(HPKE_SUITE, sealed.ciphertext, info=expected.info())
        except (InvalidTag, ValueError):
            invalid_request("invalid_share", f"the sealed share does not open with {node_id}'s identity key")

    def _already_imported(self, key_id: str, new_epoch: int, ack_digest: str) -> bool:
        """A retry finds its own share; a failed earlier attempt's inactive share (never used) is replaced."""
        shares = self.services.shares
        if not shares.has_share(key_id, new_epoch):
            return False
        if shares.get_meta(key_id, new_epoch).public.get("ack_digest") == ack_digest:
            return True
        if shares.active_epoch(key_id) == new_epoch:
            invalid_request("stale_step", f"{key_id} is already active at epoch {new_epoch} on this node")
        shares.delete_epoch(key_id, new_epoch)
        return False
