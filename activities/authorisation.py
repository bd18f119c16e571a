"""A participant's own authorisation of every share-using request (DESIGN.md "Trust model").

Before a node answers a hello, touches a nonce, a presignature or its share, the request must carry
an intent that (1) the API signed and the key's pinned policy's quorum approved, (2) has not
expired, (3) names exactly this session's operation, key, epoch, digest and signers, whose roster
matches the one pinned at keygen, and (4) no other workflow used before on this node. Refusals are
`InvalidRequest`s (SECURITY.md A1-A4): they name no node and consume nothing, because every check
runs before the first durable step; the intent-id record is that step.

What is pinned lives in the sealed share's public data (`pinned`): the roster (party id, node id,
both identity keys), the threshold and the policy, written at keygen from the API-signed keygen
intent; since the wallet features also the key's chain (its purpose, SECURITY.md I7) and, for
secp256k1 keys, the BIP-32 chain code the keygen derived from its session id (tss/hd.py), so a node
derives child keys from what it sealed itself, never from a request.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio import activity

from activities.node_services import invalid_request
from mpc.intent_keys import TrustedIntentKeys
from mpc.intents import Intent, IntentRefused, KeyPolicy, SignedIntent, check_intent
from mpc.keystore import RetryMismatchError, SecretStateStore
from workflows.types import Party, SessionIntent, roster_of

INTENT_RECORDS = "intents"
MAX_CACHED_RECORDS = 100_000
__all__ = ["INTENT_RECORDS", "IntentGate", "Pinned", "calling_workflow", "roster_of"]


@dataclass(frozen=True)
class Pinned:
    """What the keygen session fixed for a key, read from this node's sealed share."""

    roster: tuple[Mapping[str, Any], ...]
    threshold: int
    policy: KeyPolicy
    chain_type: str | None = None  # the key's purpose (None: sealed before purposes were pinned)
    chain_code: str | None = None  # BIP-32 chain code, hex (None: Ed25519, or a key made before HD keys)

    @classmethod
    def from_public(cls, public: Mapping[str, Any]) -> Pinned | None:
        pinned = public.get("pinned")
        if not isinstance(pinned, Mapping):
            return None  # a share sealed before pinning existed: the API's signature alone, no roster check
        chain_type, chain_code = pinned.get("chain_type"), pinned.get("chain_code")
        return cls(tuple(pinned["roster"]), int(pinned["threshold"]), KeyPolicy.from_dict(pinned.get("policy")),
                   str(chain_type) if chain_type is not None else None,
                   str(chain_code) if chain_code is not None else None)

    def to_public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roster": list(self.roster), "threshold": self.threshold,
                               "policy": self.policy.to_dict()}
        if self.chain_type is not None:
            out["chain_type"] = self.chain_type
        if self.chain_code is not None:
            out["chain_code"] = self.chain_code
        return out

    def check_parties(self, parties: Sequence[Party]) -> None:
        """Every party of the session must be a pinned holder with its pinned identity keys (I2, A3)."""
        pinned = {int(e["party_id"]): dict(e) for e in self.roster}
        for party in parties:
            if pinned.get(party.party_id) != party.roster_entry():
                invalid_request("roster_mismatch", f"party {party.party_id} ({party.node_id}) is not the holder, "
                                                   "or not with the identity keys, pinned at keygen")


def calling_workflow() -> str:
    """The Temporal id of the workflow that scheduled this activity (not a field the caller writes)."""
    try:
        return activity.info().workflow_id or ""
    except RuntimeError:  # called outside an activity (unit tests)
        return ""


class IntentGate:
    """Verifies intents against the trusted API keys and records each id once, durably."""

    def __init__(self, trusted: TrustedIntentKeys, state: SecretStateStore,
                 clock: Callable[[], float] = time.time) -> None:
        self.trusted = trusted
        self.state = state
        self.clock = clock
        self._recorded: dict[tuple[str, str], str] = {}  # what this process recorded or read back already

    def verify(self, wire: SessionIntent | None, *, operation: str, key_id: str, epoch: int,
               policy: KeyPolicy, allow_expired: bool = False) -> Intent:
        """`allow_expired`: only for finishing a change that was authorised and committed before
        (an old holder erasing its share after a reshare, perhaps days later when next reachable)."""
        if wire is None:
            invalid_request("unauthorized", f"{operation} of key {key_id} needs a signed intent; none was sent")
        signed = SignedIntent.of(wire)
        now = 0.0 if allow_expired else self.clock()
        try:
            return self._check(signed, operation, key_id, epoch, policy, refresh=False, now=now)
        except IntentRefused as first:
            if first.code == "unauthorized":  # perhaps a rotated API key: read the trusted keys again, once
                try:
                    return self._check(signed, operation, key_id, epoch, policy, refresh=True, now=now)
                except IntentRefused as exc:
                    invalid_request(exc.code, str(exc))
            invalid_request(first.code, str(first))

    def _check(self, signed: SignedIntent, operation: str, key_id: str, epoch: int, policy: KeyPolicy, *,
               refresh: bool, now: float) -> Intent:
        keys = self.trusted.keys(refresh=refresh)
        if not keys:
            raise IntentRefused("unauthorized", "this node trusts no API intent key (INTENT_TRUSTED_KEYS or Vault)")
        return check_intent(signed, policy=policy, api_keys=keys, now=now, operation=operation,
                            key_id=key_id, epoch=epoch)

    @staticmethod
    def expect(intent: Intent, **fields: Any) -> None:
        """Each named session parameter must equal the intent's."""
        for name, value in fields.items():
            if intent.details.get(name) != value:
                invalid_request("intent_mismatch", f"the session's {name} is not the one the intent authorises")

    @staticmethod
    def expect_signers(intent: Intent, parties: Sequence[Party]) -> None:
        allowed = intent.details.get("signers")
        if not isinstance(allowed, list) or not {p.node_id for p in parties} <= set(allowed):
            invalid_request("intent_mismatch", "a signer of this session is not among the intent's signers")

    def record(self, intent: Intent, *, workflow_id: str, slot: str, session_id: str) -> None:
        """Bind the intent to its first workflow, and each `slot` (e.g. one signer set) to one session.

        Retries of the same session pass; the intent in another workflow, or the same signer set in
        another session, is `intent_reused`. Written only after every check passed.
        """
        slot_name = "slot-" + hashlib.sha256(slot.encode()).hexdigest()[:32]
        for name, value in (("workflow", workflow_id), (slot_name, session_id)):
            if self._recorded.get((intent.intent_id, name)) == value:
                continue  # every round of a session checks again; the sealed record is read once per process
            try:
                self.state.answer_once(INTENT_RECORDS, intent.intent_id, name, value.encode(), lambda: b"")
            except RetryMismatchError:
                invalid_request("intent_reused", f"intent {intent.intent_id} was already used by another "
                                                 f"{'workflow' if name == 'workflow' else 'session'}")
            if len(self._recorded) > MAX_CACHED_RECORDS:
                self._recorded.clear()
            self._recorded[(intent.intent_id, name)] = value

    def was_used(self, intent_id: str) -> bool:
        return self.state.exists(INTENT_RECORDS, intent_id, "workflow")
