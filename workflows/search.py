"""Search attributes every workflow carries, so operators can `temporal workflow list --query`."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from mpc.protocols import SessionStatus

KEY_ID = SearchAttributeKey.for_keyword("MpcKeyId")
PROTOCOL = SearchAttributeKey.for_keyword("MpcProtocol")
CURVE = SearchAttributeKey.for_keyword("MpcCurve")
CHAIN = SearchAttributeKey.for_keyword("MpcChain")
OPERATION = SearchAttributeKey.for_keyword("MpcOperation")
STATUS = SearchAttributeKey.for_keyword("MpcStatus")


def initial_attributes(*, key_id: str, protocol: str, curve: str, chain: str, operation: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([
        SearchAttributePair(KEY_ID, key_id), SearchAttributePair(PROTOCOL, protocol),
        SearchAttributePair(CURVE, curve), SearchAttributePair(CHAIN, chain),
        SearchAttributePair(OPERATION, operation), SearchAttributePair(STATUS, str(SessionStatus.PENDING)),
    ])


def set_status(status: str) -> None:
    """Upsert the status attribute (a no-op when the workflow was started without attributes)."""
    if workflow.info().typed_search_attributes.get(STATUS) is not None:
        workflow.upsert_search_attributes([STATUS.value_set(str(status))])
