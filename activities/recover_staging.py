"""A GG18/GG20 key's *staged* share on a new holder, between the recovery's import and its `gg20-recover` session.

The operator's offline dealer could give a new holder only a plain Shamir share (tss.ecdsa.staging): no Paillier
key, no peer parameters. The import (activities/recover_node.py) checks it as strictly as a FROST share and keeps
it here, sealed in the node's secret state store under the key and the epoch the recovery starts, beside the
`recover` intent it came with. It is *not* a share of the key store: no signing, presigning, export or test
signature reads this namespace, so a staged share can never sign. It is read only by the `gg20-recover` session of
that same intent (t' new holders deal from it, activities/ecdsa_protocols.py) and erased when that session stores
the complete key share. What it was imported under stays until the new epoch is activated, so that a Temporal
retry of the session's last round is still authorised (and answered from the stored answer). A failed recovery's
staged share is replaced by the next attempt's import, or erased when an epoch of the key is activated.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from activities.authorisation import Pinned
from activities.node_services import NodeServices, invalid_request
from activities.reshare_authorisation import _claimed_policy
from mpc.intents import Intent
from mpc.keystore import KeystoreError, SecretStateStore, ShareNotFoundError, StaleEpochError
from workflows.rounds import HelloInput
from workflows.types import ProtocolRoundInput, roster_of

STAGED = "recover-staged"


def _name(epoch: int) -> str:
    return f"epoch-{epoch}"


@dataclass(frozen=True)
class StagedRecord:
    """A staged share (secret: `share`) with what it was imported under."""

    intent_id: str
    session_id: str
    package: dict[str, Any]  # the staging package (tss.ecdsa.staging.StagingPackage.to_dict())
    share: bytes  # StagedShare.to_bytes(): secret; empty once the recovery session stored the key share

    def __repr__(self) -> str:
        return f"StagedRecord(intent={self.intent_id}, session={self.session_id})"


def put_staged(state: SecretStateStore, key_id: str, epoch: int, record: StagedRecord) -> None:
    """Keep (or replace: an earlier, failed attempt's) the staged share of `key_id` for `epoch`."""
    body = json.dumps({"intent_id": record.intent_id, "session_id": record.session_id, "package": record.package,
                       "share": base64.b64encode(record.share).decode()}, sort_keys=True).encode()
    state.put(STAGED, key_id, _name(epoch), body, replace=True)


def load_staged(state: SecretStateStore, key_id: str, epoch: int) -> StagedRecord | None:
    try:
        body = json.loads(state.get(STAGED, key_id, _name(epoch)))
    except (ShareNotFoundError, StaleEpochError):  # none, or staged before a restore: void (SECURITY.md N4)
        return None
    return StagedRecord(str(body["intent_id"]), str(body["session_id"]), dict(body["package"]),
                        base64.b64decode(body["share"]))


def spend_staged(state: SecretStateStore, key_id: str, epoch: int) -> None:
    """The session stored the key share: erase the staged share, keep what authorises a retry of its rounds."""
    record = load_staged(state, key_id, epoch)
    if record is not None and record.share:
        put_staged(state, key_id, epoch, dataclasses.replace(record, share=b""))


def discard_staged(state: SecretStateStore, key_id: str) -> int:
    """Erase every staged share of `key_id` (the recovery stored its key shares, or an epoch was activated)."""
    return state.delete_session(STAGED, key_id)


def authorise_recovery(services: NodeServices, request: HelloInput | ProtocolRoundInput) -> Intent:
    """A node's own verdict on a `gg20-recover` session: only for the `recover` intent it imported its staged share
    under (which passed every check of the import: manifest, pinned roster and policy, sealed share), and only
    with exactly that intent's dealers, new committee and threshold (SECURITY.md A1-A4)."""
    params, reshare = request.params, request.params.reshare
    if reshare is None:
        invalid_request("invalid_parameters", "a recovery session names its dealers and new committee")
    key_id, epoch = params.key_id, params.epoch
    try:
        staged = load_staged(services.state, key_id, epoch + 1)
        holds = services.shares.active_epoch(key_id) == epoch and services.shares.has_share(key_id, epoch)
        pinned = Pinned.from_public(services.shares.get_meta(key_id, epoch).public) if holds else None
    except KeystoreError:
        invalid_request("share_unavailable", f"{services.node_id} cannot read its records of {key_id}")
    if staged is None:
        invalid_request("share_unavailable", f"{services.node_id} imported no recovered share of {key_id} for "
                                             f"epoch {epoch + 1}")
    policy = pinned.policy if pinned is not None else _claimed_policy(request.intent)
    intent = services.intents.verify(request.intent, operation="recover", key_id=key_id, epoch=epoch, policy=policy)
    if intent.intent_id != staged.intent_id:
        invalid_request("intent_mismatch", "the recovery session's intent is not the one this node imported its "
                                           "recovered share under")
    services.intents.expect(intent, protocol=request.protocol, dealers=list(reshare.dealers),
                            new_threshold=reshare.new_threshold, new_roster=roster_of(request.parties),
                            package=staged.package)
    new_ids = sorted(p.party_id for p in request.parties)
    if list(reshare.new_participants) != new_ids or not set(reshare.dealers) <= set(new_ids) or \
            len(reshare.dealers) != reshare.new_threshold:
        invalid_request("intent_mismatch", "a recovery's dealers are t' of its new committee, which is the session")
    return intent


__all__ = ["STAGED", "StagedRecord", "authorise_recovery", "discard_staged", "load_staged", "put_staged",
           "spend_staged"]
