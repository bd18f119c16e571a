"""A test-only workflow that calls one participant activity directly, several times.

It lets a test send exactly the input it wants to one node (as a retrying Temporal would, or as a
malicious coordinator could) and see each answer or refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


@dataclass
class ProbeCall:
    activity: str
    task_queue: str
    arg: dict[str, Any]


@dataclass
class ProbeInput:
    calls: list[ProbeCall]


@dataclass
class ProbeAnswer:
    ok: bool
    result: Any = None
    error_type: str | None = None
    error_code: str | None = None
    message: str | None = None


@dataclass
class ProbeOutput:
    answers: list[ProbeAnswer] = field(default_factory=list)


@workflow.defn(name="TestProbe")
class ProbeWorkflow:
    @workflow.run
    async def run(self, request: ProbeInput) -> ProbeOutput:
        out = ProbeOutput()
        for call in request.calls:
            try:
                result = await workflow.execute_activity(
                    call.activity, call.arg, task_queue=call.task_queue,
                    start_to_close_timeout=timedelta(seconds=20), retry_policy=RetryPolicy(maximum_attempts=1))
                out.answers.append(ProbeAnswer(ok=True, result=result))
            except ActivityError as err:
                cause = err.cause
                details = cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
                out.answers.append(ProbeAnswer(
                    ok=False, error_type=getattr(cause, "type", type(cause).__name__),
                    error_code=details.get("code") if isinstance(details, dict) else None,
                    message=str(cause)))
        return out
