"""A node's own verdict on a refresh or reshare session (DESIGN.md "Trust model", SECURITY.md R5, A4).

The intent names the whole change: the old roster and public key package, the dealers (old
holders that deal), the new roster (party id, node, identity keys) and threshold, and the policy the
new shares pin. An old holder checks it against what it sealed with its share: the pinned roster,
the pinned policy (whose `reshare` quorum must have approved; refresh counts the same) and its own
public package. A new holder has nothing pinned yet: it checks the API signature and the quorum of
the policy the intent names, which every dealer compared with its own pinned policy, so a change
that the pinned approvers did not authorise finds no dealer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from activities.authorisation import Pinned
from activities.key_state import refuse_if_disabled
from activities.node_services import NodeServices, invalid_request
from mpc.intents import Intent, IntentRefused, KeyPolicy, SignedIntent
from mpc.keystore import KeystoreError
from mpc.protocols import Stage
from workflows.rounds import HelloInput
from workflows.types import ProtocolRoundInput, SessionIntent, roster_of


def _mismatch(what: str) -> None:
    invalid_request("intent_mismatch", f"the session's {what} is not the one the intent authorises")


def _claimed_policy(wire: SessionIntent | None) -> KeyPolicy:
    """The policy an intent names (a new holder's only source); anything unreadable is the empty
    policy, and `IntentGate.verify` then refuses the intent itself with its own reason."""
    if wire is None:
        return KeyPolicy()
    try:
        return KeyPolicy.from_dict(Intent.parse(SignedIntent.of(wire).raw).details.get("policy"))
    except (IntentRefused, ValueError, TypeError, AttributeError):
        return KeyPolicy()


def _entries(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(e, Mapping) and "party_id" in e for e in value):
        invalid_request("intent_mismatch", "the intent's rosters are not lists of holders")
    return [dict(e) for e in value]


def authorise_reshare(services: NodeServices, request: HelloInput | ProtocolRoundInput, stage: Stage) -> Intent:
    params, reshare = request.params, request.params.reshare
    if reshare is None:
        invalid_request("invalid_parameters", "a refresh or reshare session names its dealers and new committee")
    key_id, epoch = params.key_id, params.epoch
    try:
        holds = services.shares.active_epoch(key_id) == epoch and services.shares.has_share(key_id, epoch)
    except KeystoreError:
        invalid_request("share_unavailable", f"{services.node_id} cannot read its share records of {key_id}")
    pinned: Pinned | None = None
    package: Any = None
    if holds:
        refuse_if_disabled(services.state, key_id)
        meta = services.shares.get_meta(key_id, epoch)
        pinned, package = Pinned.from_public(meta.public), meta.public.get("package")
        policy = pinned.policy if pinned is not None else KeyPolicy()
    else:
        policy = _claimed_policy(request.intent)
    intent = services.intents.verify(request.intent, operation=stage.value, key_id=key_id, epoch=epoch, policy=policy)
    details = intent.details
    old_roster, new_roster = _entries(details.get("old_roster")), _entries(details.get("new_roster"))
    services.intents.expect(intent, protocol=request.protocol, dealers=list(reshare.dealers),
                            new_threshold=reshare.new_threshold)
    if [int(e["party_id"]) for e in new_roster] != list(reshare.new_participants):
        _mismatch("new committee")
    if stage == Stage.REFRESH and (new_roster != old_roster or sorted(reshare.dealers) != reshare.new_participants):
        _mismatch("refresh committee (a refresh keeps every holder)")
    # The session's parties are exactly the dealers (as the old roster names them) and the new
    # committee; a node in both plays both roles under one party id and one pair of identity keys.
    expected = {int(e["party_id"]): e for e in new_roster}
    old_by_pid = {int(e["party_id"]): e for e in old_roster}
    for pid in reshare.dealers:
        entry = old_by_pid.get(pid)
        if entry is None or expected.setdefault(pid, entry) != entry:
            _mismatch("dealer set")
    if roster_of(request.parties) != [expected[p] for p in sorted(expected)]:
        _mismatch("party list")
    if holds and pinned is not None:
        if old_roster != [dict(e) for e in pinned.roster]:
            invalid_request("roster_mismatch", "the intent's old roster is not the one pinned with this node's share")
        if details.get("policy") != pinned.policy.to_dict():
            _mismatch("policy (a reshare keeps the pinned policy)")
        if stage == Stage.REFRESH and reshare.new_threshold != pinned.threshold:
            _mismatch("threshold (a refresh keeps it)")
        # The chain code and purpose go with the key: a reshare can neither change nor drop them.
        if details.get("chain_code") != pinned.chain_code:
            _mismatch("chain code (a reshare keeps the key's BIP-32 chain code)")
        if pinned.chain_type is not None and details.get("chain_type") != pinned.chain_type:
            _mismatch("chain (a reshare keeps the key's purpose)")
    if holds and details.get("old_package") != package:
        _mismatch("old public key package")
    return intent


def new_pinned(intent: Intent) -> dict[str, Any]:
    """What the new shares seal for their life: the new roster and threshold, the (unchanged) policy,
    chain and chain code."""
    details = intent.details
    chain_type, chain_code = details.get("chain_type"), details.get("chain_code")
    return Pinned(tuple(_entries(details.get("new_roster"))), int(details["new_threshold"]),
                  KeyPolicy.from_dict(details.get("policy")), str(chain_type) if chain_type is not None else None,
                  str(chain_code) if chain_code is not None else None).to_public()
