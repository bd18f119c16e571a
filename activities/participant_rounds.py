"""Protocol-round activities of a participant: the hello (session-id contribution) and each round.

Idempotency (DESIGN.md rule 2, SECURITY.md N3): every answer goes through
`SecretStateStore.answer_once`, keyed by (session, round) and the digest of the input. A retry
with byte-identical input gets the stored answer back (the same sealed envelopes, so peers see a
repeat, not equivocation), never fresh randomness; a retry with other input is refused. The
answer record also holds the round's secret state for the next round: sealed on the node's disk,
never in workflow history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import asdict
from typing import Any

from temporalio import activity

from activities.authorisation import Pinned, calling_workflow, roster_of
from activities.ecdsa_protocols import reshare_test_epoch
from activities.key_state import refuse_if_disabled
from activities.node_services import (
    NodeServices,
    Roster,
    canonical_request,
    from_wire,
    invalid_request,
    open_inbound,
    raise_envelope_error,
    raise_protocol_error,
    seal_outbound,
    to_wire,
    violation,
)
from activities.protocols import adapter_for, require_spec
from activities.purpose import Target, check_purpose, expect_batch_item
from activities.recover_staging import authorise_recovery
from activities.reshare_authorisation import authorise_reshare, new_pinned
from activities.session_id import CONTRIBUTION_BYTES, hello_ssid, session_id_hash
from mpc.envelope import Envelope, EnvelopeError, open_envelope, seal
from mpc.hd import HD_CURVES
from mpc.intents import Intent, KeyPolicy
from mpc.keystore import KeystoreError, RetryMismatchError
from mpc.protocols import Activity, ProtocolSpec, SessionProtocol, Stage, key_protocol_of
from tss.errors import InvalidInputError, NonceReuseError, ProtocolError
from tss.hd import chain_code_from_ssid
from workflows.rounds import HelloInput
from workflows.types import ProtocolRoundInput, ProtocolRoundOutput, WireMessage

log = logging.getLogger("mpc.participant.rounds")

NAMESPACE = "sessions"


class ParticipantRounds:
    def __init__(self, services: NodeServices) -> None:
        self.services = services

    def _answer_once(self, session_id: str, name: str, request: Any, produce: Any) -> dict[str, Any]:
        try:
            raw = self.services.state.answer_once(NAMESPACE, session_id, name, canonical_request(request),
                                                  lambda: json.dumps(produce()).encode())
        except RetryMismatchError:
            invalid_request("round_input_changed", f"{name} of session {session_id} was already answered for "
                                                   "other input; refusing to answer again")
        return json.loads(raw)

    def _stored(self, session_id: str, name: str) -> dict[str, Any]:
        return json.loads(self.services.state.stored_answer(NAMESPACE, session_id, name))

    # ---- round 0: hello -------------------------------------------------------------------
    def _authorise(self, request: HelloInput | ProtocolRoundInput) -> Intent | None:
        """Check the session's intent before anything is answered or touched (DESIGN.md "Trust model").

        Keygen: an API-signed keygen intent naming this exact roster, threshold and curve (its policy
        is then pinned with the share). Signing: an intent for this key, epoch, digest and signers,
        whose roster is the pinned one. Refresh and reshare: activities/reshare_authorisation.py; the
        reshare of a recovery's staged shares: activities/recover_staging.py.
        Then the intent id is bound to this workflow (once, durably).
        """
        spec = require_spec(request.protocol)
        gate, params = self.services.intents, request.params
        key_id = params.key_id
        signing_for = key_protocol_of(request.protocol)
        if spec.stage == Stage.KEYGEN:
            intent = gate.verify(request.intent, operation="keygen", key_id=key_id, epoch=0, policy=KeyPolicy())
            gate.expect(intent, protocol=request.protocol, curve=params.curve, threshold=params.threshold,
                        roster=roster_of(request.parties))
            slot = "keygen"
        elif spec.stage == Stage.SIGN and signing_for is not None and reshare_test_epoch(self.services, params):
            # A reshare's test signature with its inactive new shares over the tagged test digest:
            # authorised by the reshare itself; the signers must be the new holders it pinned.
            pinned = Pinned.from_public(self.services.shares.get_meta(key_id, params.epoch).public)
            if pinned is None:
                invalid_request("share_unavailable", f"the new share of {key_id} pins no roster")
            pinned.check_parties(request.parties)
            return None
        elif spec.name == SessionProtocol.GG20_PRESIGN and request.intent is None:
            self._authorise_pool_presign(request)
            return None
        elif spec.stage == Stage.SIGN and signing_for is not None:
            refuse_if_disabled(self.services.state, key_id)
            try:
                meta = self.services.shares.get_meta(key_id)
            except (KeystoreError, ValueError):
                invalid_request("share_unavailable", f"no share of key {key_id} on {self.services.node_id}")
            pinned = Pinned.from_public(meta.public)
            if pinned is not None:
                pinned.check_parties(request.parties)
            intent = gate.verify(request.intent, operation="sign", key_id=key_id, epoch=meta.epoch,
                                 policy=pinned.policy if pinned else KeyPolicy())
            if params.batch_index is None:
                gate.expect(intent, protocol=signing_for.name, digest=params.digest,
                            derivation_path=params.derivation_path)
            else:  # one run of an ECDSA batch: the intent's digest (and child) at exactly this index
                gate.expect(intent, protocol=signing_for.name, digest=None)
                expect_batch_item(intent, params.batch_index, Target(params.digest or "", None, params.derivation_path))
            check_purpose(self.services, key_id, intent, family="ecdsa", curve=params.curve)
            gate.expect_signers(intent, request.parties)
            # One run per signer set for a digest (per index of a batch): the intent binds it to one session.
            index = "" if params.batch_index is None else f"#{params.batch_index}"
            slot = request.protocol + index + ":" + ",".join(sorted(p.node_id for p in request.parties))
        elif spec.stage in (Stage.REFRESH, Stage.RESHARE):
            intent = authorise_reshare(self.services, request, spec.stage)
            slot = "reshare"
        elif spec.stage == Stage.RECOVER:
            intent = authorise_recovery(self.services, request)
            slot = "recover-reshare"
        else:
            invalid_request("unauthorized", f"{request.protocol} sessions are not authorised on this node")
        gate.record(intent, workflow_id=calling_workflow(), slot=slot, session_id=request.session_id)
        return intent

    def _authorise_pool_presign(self, request: HelloInput | ProtocolRoundInput) -> None:
        """A presignature for the pool, made before any sign request: no intent, because it signs nothing.

        It is bound to this key, its epoch and this signer set (tss.ecdsa.gg20), the signers must be holders
        pinned at keygen, and the online round that uses it needs a sign intent like every signature. So the
        coordinator can make a node spend CPU, never sign: the same as the FROST nonce pool.
        """
        params = request.params
        refuse_if_disabled(self.services.state, params.key_id)
        try:
            meta = self.services.shares.get_meta(params.key_id)
        except (KeystoreError, ValueError):
            invalid_request("share_unavailable", f"no share of key {params.key_id} on {self.services.node_id}")
        pinned = Pinned.from_public(meta.public)
        if pinned is None:
            invalid_request("unauthorized", f"key {params.key_id} pins no roster: presign only under a sign intent")
        pinned.check_parties(request.parties)
        if params.digest is not None or params.derivation_path is not None or params.batch_index is not None:
            invalid_request("unauthorized", "a presignature for the pool names no digest; signing needs an intent")

    @activity.defn(name=Activity.HELLO.value)
    async def session_hello(self, request: HelloInput) -> WireMessage:
        Roster(request.parties, self.services.node_id)  # refuses a session this node is not part of
        self._authorise(request)

        def produce() -> dict[str, Any]:
            envelope = seal(self.services.identity,
                            ssid=hello_ssid(request.workflow_id, request.session_id, request.protocol),
                            protocol=request.protocol, round=0, kind="hello",
                            payload=secrets.token_bytes(CONTRIBUTION_BYTES))
            return asdict(to_wire(envelope))

        return WireMessage(**self._answer_once(request.session_id, "hello", request, produce))

    def _derive_ssid(self, request: ProtocolRoundInput, roster: Roster) -> bytes:
        """Check every party's signed contribution (own one included) and hash them into the ssid."""
        provisional = hello_ssid(request.workflow_id, request.session_id, request.protocol)
        contributions: dict[str, bytes] = {}
        for wire in request.hello:
            envelope = from_wire(wire)
            try:
                payload = open_envelope(envelope, self.services.identity, roster.public(envelope.sender),
                                        ssid=provisional, protocol=request.protocol, round=0, kind="hello")
            except EnvelopeError as exc:
                raise_envelope_error(exc)
            if envelope.sender in contributions and contributions[envelope.sender] != payload:
                violation("equivocation", [envelope.sender], f"{envelope.sender} sent two different hellos")
            contributions[envelope.sender] = payload
        missing = sorted(set(roster.by_node) - set(contributions))
        if missing:
            violation("ssid_disagreement", missing, f"no session-id contribution from {', '.join(missing)}")
        own_hello = Envelope.from_dict(json.loads(self._stored(request.session_id, "hello")["body"]))
        if contributions[self.services.node_id] != own_hello.payload_bytes():
            violation("ssid_disagreement", [], "the relayed hello list does not hold this node's contribution")
        params = request.params
        return session_id_hash(
            protocol=request.protocol, curve=params.curve, key_id=params.key_id, epoch=params.epoch,
            parties=request.parties, threshold=params.session_threshold(), workflow_id=request.workflow_id,
            contributions=contributions,
        )

    # ---- rounds 1..n ----------------------------------------------------------------------
    @activity.defn(name=Activity.ROUND.value)
    async def protocol_round(self, request: ProtocolRoundInput) -> ProtocolRoundOutput:
        roster = Roster(request.parties, self.services.node_id)
        if not 1 <= request.round <= request.total_rounds:
            invalid_request("invalid_round", f"round {request.round} outside 1..{request.total_rounds}")
        name = f"round-{request.round}"
        spec = require_spec(request.protocol)

        def authorised_round() -> dict[str, Any]:
            intent = self._authorise(request)
            return self._answer_once(request.session_id, name, request,
                                     lambda: self._run_round(spec, request, roster, intent))

        # Seconds of Paillier arithmetic per round (and the checks' Vault calls) off the event loop, so
        # heartbeats, pings and other sessions' rounds go on meanwhile.
        record = await asyncio.to_thread(authorised_round) if spec.compute_bound else authorised_round()
        output = record["output"]
        if request.round == request.total_rounds:
            # Round states hold polynomial coefficients and old shares: gone once the share is stored.
            for earlier in range(1, request.total_rounds):
                self.services.state.delete(NAMESPACE, request.session_id, f"round-{earlier}")
        return ProtocolRoundOutput(node_id=output["node_id"], outbound=[WireMessage(**m) for m in output["outbound"]],
                                   public_result=output["public_result"])

    def _run_round(self, spec: ProtocolSpec, request: ProtocolRoundInput, roster: Roster,
                   intent: Intent | None) -> dict[str, Any]:
        if request.round == 1:
            ssid = self._derive_ssid(request, roster)
            previous_state = None
        else:
            previous = self._stored(request.session_id, f"round-{request.round - 1}")
            ssid, previous_state = bytes.fromhex(previous["ssid"]), bytes.fromhex(previous["state"])
        try:
            adapter = adapter_for(spec)
            setup = adapter.setup(spec, request.params, roster, self.services, ssid, intent)
        except NonceReuseError as exc:
            invalid_request("nonce_consumed", f"cannot start {request.protocol}: {exc}")
        except (InvalidInputError, KeyError, ValueError) as exc:
            invalid_request("invalid_parameters", f"cannot start {request.protocol}: {exc}")
        current = setup.initial_state if previous_state is None else previous_state
        inbound = open_inbound(self.services, roster, ssid=ssid, protocol=request.protocol,
                               round_no=request.round - 1, messages=request.inbound)
        try:
            background = self.services.background_rounds
            if setup.background is not None and background is not None:
                result = background.run_round(setup.background, request.round, current, inbound)
            else:
                result = setup.protocol.run_round(request.round, current, inbound)
        except NonceReuseError as exc:
            invalid_request("nonce_consumed", f"{request.protocol} refused: {exc}")
        except ProtocolError as exc:
            raise_protocol_error(exc, roster)
        except InvalidInputError as exc:
            invalid_request("invalid_round", str(exc))
        outbound = seal_outbound(self.services, roster, ssid=ssid, protocol=request.protocol,
                                 messages=result.outbound)
        public_result = result.public_result
        if request.round == request.total_rounds:
            pinned = None
            if spec.stores_share and intent is not None:
                pinned = _pinned(request, intent, ssid) if spec.stage == Stage.KEYGEN else new_pinned(intent)
            public_result = adapter.finish(spec, request, self.services, setup, ssid, result.result,
                                           public_result or {}, pinned)
            if spec.stage == Stage.KEYGEN and pinned is not None and pinned.get("chain_code"):
                public_result = {**public_result, "chain_code": pinned["chain_code"]}  # every party agrees on it
        log.info("round done", extra={"session_id": request.session_id, "round": request.round,
                                      "protocol": request.protocol, "node_id": self.services.node_id})
        output = ProtocolRoundOutput(node_id=self.services.node_id, outbound=outbound, public_result=public_result)
        final = request.round == request.total_rounds
        return {"output": asdict(output), "ssid": ssid.hex(), "state": "" if final else result.state.hex()}


def _pinned(request: ProtocolRoundInput, intent: Intent, ssid: bytes) -> dict[str, Any]:
    """What a keygen fixes for the key's life: its roster, threshold, the intent's policy and chain,
    and for a secp256k1 key the BIP-32 chain code: a tagged hash of the session id, which hashes every
    party's fresh hello contribution, so no party picks it (tss/hd.py)."""
    chain_type = intent.details.get("chain_type")
    chain_code = chain_code_from_ssid(ssid).hex() if request.params.curve in HD_CURVES else None
    return Pinned(tuple(roster_of(request.parties)), request.params.threshold,
                  KeyPolicy.from_dict(intent.details.get("policy")),
                  str(chain_type) if chain_type is not None else None, chain_code).to_public()
