"""OpenAPI links between operations: key -> sign, disable, enable, archive, epochs; session -> intent, approvals.

Clients read them as documentation; schemathesis's stateful phase follows them (create a key, sign with it,
read the session). Links start only at responses that always hold the id (one key, one session): a link
into the first element of a list has nothing to resolve when the list is empty.
"""

from __future__ import annotations

Links = dict[str, dict[str, object]]


def _ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _links(parameter: str, value: str, targets: dict[str, tuple[str, str]]) -> Links:
    return {name: {"operationRef": _ref(path, method), "parameters": {parameter: value}}
            for name, (path, method) in targets.items()}


def key_links() -> Links:
    """From a response whose body has the key's `key_id` (a key, or a keygen session)."""
    return _links("key_id", "$response.body#/key_id", {
        "GetKey": ("/v1/keys/{key_id}", "get"),
        "SignWithKey": ("/v1/keys/{key_id}/sign", "post"),
        "GetKeyEpochs": ("/v1/keys/{key_id}/epochs", "get"),
        "DisableKey": ("/v1/keys/{key_id}/disable", "post"),
        "EnableKey": ("/v1/keys/{key_id}/enable", "post"),
        "ArchiveKey": ("/v1/keys/{key_id}", "delete"),
    })


def session_links() -> Links:
    """From a response whose body is a session (`session_id`)."""
    return _links("session_id", "$response.body#/session_id", {
        "GetSession": ("/v1/sessions/{session_id}", "get"),
        "GetSessionIntent": ("/v1/sessions/{session_id}/intent", "get"),
        "ApproveSession": ("/v1/sessions/{session_id}/approvals", "post"),
    })
