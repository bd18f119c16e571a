"""The generic round driver (DESIGN.md "The round protocol").

Per round it runs one activity per participant, concurrently, each on that node's own task queue,
then routes every outbound message: a broadcast to every other party, a point-to-point message to
its recipient. A failure is turned into a `SessionFailed` error that names the node at fault: the
culprit a participant reported (a bad proof, an invalid share, equivocation), or the node whose
activity timed out or kept failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from mpc.queues import participant_task_queue
    from workflows.types import BROADCAST, Party, RoundPolicy, SessionFailure, WireMessage

PROTOCOL_VIOLATION = "ProtocolViolation"
"""ApplicationError type a participant raises when a peer cheated; never retried (SECURITY.md S6)."""

INVALID_REQUEST = "InvalidRequest"
"""ApplicationError type for a request a participant refuses (unknown key, reused nonce, ...)."""

DEPENDENCY_UNAVAILABLE = "DependencyUnavailable"
"""ApplicationError type for a node whose own infrastructure (Vault) is down: retried after a pause, and when
the retries run out the session fails `vault_unavailable` naming no node (nobody cheated, nobody is to blame)."""
VAULT_ERROR_TYPES = (DEPENDENCY_UNAVAILABLE, "VaultUnavailableError", "VaultSealedError")
"""The type above, and the keystore's own Vault outage errors where they reach the activity boundary unconverted."""

SESSION_FAILED = "SessionFailed"


class SessionFailedError(Exception):
    """Raised inside workflows; carries the failure to record before failing the workflow."""

    def __init__(self, failure: SessionFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def activity_options(policy: RoundPolicy, node_id: str) -> dict[str, Any]:
    return {
        "task_queue": participant_task_queue(node_id),
        "start_to_close_timeout": timedelta(seconds=policy.round_timeout_seconds),
        # Schedule-to-start is bounded too: a node whose worker is down must not stall the session.
        "schedule_to_close_timeout": timedelta(seconds=policy.round_timeout_seconds * policy.max_attempts),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(milliseconds=200),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=5),
            maximum_attempts=max(1, policy.max_attempts),  # 0 would mean "retry forever"
            non_retryable_error_types=[PROTOCOL_VIOLATION, INVALID_REQUEST],
        ),
    }


def failure_from(node_id: str, error: BaseException) -> SessionFailure:
    """Name the node at fault for one failed participant activity (SECURITY.md A5).

    Only a protocol violation names a node, the culprit the reporter proved; a refused request
    (`InvalidRequest`: bad intent, unknown key, consumed nonce) names nobody, whatever its details
    claim, so it can never flag a key. Every failure records `reported_by`, which lets the sign
    workflow replace a node whose own condition (no nonce, no share, timeout) stopped it.
    """
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError) and cause.type == INVALID_REQUEST:
        code = _detail(cause).get("code", "invalid_request")
        return SessionFailure(code=str(code), message=f"{node_id} refused: {cause.message}", reported_by=node_id)
    if isinstance(cause, ApplicationError) and cause.type == PROTOCOL_VIOLATION:
        details = _detail(cause)
        raw = details.get("culprits", [])
        culprits = [str(n) for n in raw] if isinstance(raw, list) else []
        code = str(details.get("code", "protocol_violation"))
        return SessionFailure(code=code, message=f"{node_id} reported: {cause.message}",
                              node=culprits[0] if culprits else None, nodes=culprits, reported_by=node_id)
    if isinstance(cause, ApplicationError) and cause.type in VAULT_ERROR_TYPES:
        return SessionFailure(code="vault_unavailable", message=f"{node_id} could not reach its Vault: {cause.message}",
                              reported_by=node_id)
    if isinstance(cause, TimeoutError):
        return SessionFailure(code="node_timeout", message=f"{node_id} did not answer in time", node=node_id,
                              nodes=[node_id], reported_by=node_id)
    return SessionFailure(code="node_failed", message=f"{node_id} failed: {type(cause).__name__}", node=node_id,
                          nodes=[node_id], reported_by=node_id)


def _detail(error: ApplicationError) -> dict[str, Any]:
    return error.details[0] if error.details and isinstance(error.details[0], dict) else {}


async def run_on_nodes(
    activity: str,
    nodes: Sequence[str],
    make_input: Callable[[str], Any],
    result_type: type,
    policy: RoundPolicy,
) -> dict[str, Any]:
    """Run `activity` on every node's queue concurrently; raise `SessionFailedError` naming a culprit."""
    tasks = [
        workflow.execute_activity(activity, make_input(node), result_type=result_type, **activity_options(policy, node))
        for node in nodes
    ]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [(node, r) for node, r in zip(nodes, results, strict=True) if isinstance(r, BaseException)]
    if failures:
        # A reported protocol violation names the cheater: prefer it over timeouts of other nodes.
        named = [failure_from(node, err) for node, err in failures]
        named.sort(key=lambda f: (f.code in ("node_timeout", "node_failed"), f.node is None, f.node or ""))
        first = named[0]
        first.nodes = sorted({n for f in named for n in f.nodes})
        raise SessionFailedError(first)
    return dict(zip(nodes, results, strict=True))


def route(parties: Sequence[Party], outbound: Sequence[WireMessage]) -> dict[str, list[WireMessage]]:
    """Deliver each message: broadcasts to every other party, point-to-point to its recipient."""
    known = {p.node_id for p in parties}
    inboxes: dict[str, list[WireMessage]] = {p.node_id: [] for p in parties}
    for message in outbound:
        if message.sender not in known:
            raise SessionFailedError(SessionFailure("unknown_sender", f"message from unknown node {message.sender}",
                                                    node=message.sender))
        if message.recipient == BROADCAST:
            for node in inboxes:
                if node != message.sender:
                    inboxes[node].append(message)
        elif message.recipient in inboxes:
            inboxes[message.recipient].append(message)
        else:
            raise SessionFailedError(SessionFailure(
                "unknown_recipient", f"{message.sender} addressed unknown node {message.recipient}",
                node=message.sender, nodes=[message.sender]))
    return inboxes


def session_failed_error(failure: SessionFailure) -> ApplicationError:
    """The workflow's final, non-retryable failure (its details hold the public failure record)."""
    return ApplicationError(failure.message, {"code": failure.code, "node": failure.node, "nodes": failure.nodes},
                            type=SESSION_FAILED, non_retryable=True)
