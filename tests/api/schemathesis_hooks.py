"""Schemathesis hooks for fuzzing the real API (loaded through SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks).

They bound the cost of the run, never what is checked:
- a keygen example asking for an ECDSA protocol (gg18, gg20, or the default gg20) is turned into FROST,
  since one ECDSA keygen costs seconds of Paillier work per node and the fuzzer would start many; a
  keygen's `refresh_every` is dropped (a schedule would keep refreshing keys for the rest of the run);
- a `?wait=true` request waits at most WAIT_CAP seconds (a sign on a key with human approvers would
  otherwise hold the connection for the whole SESSION_TIMEOUT); the API then answers 202 with the session
  still running, as without `wait`;
- a call that removes or changes a node, token or key that existed before the run goes to an unknown
  id instead (`before_call`).
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import schemathesis

WAIT_CAP = 3.0
ECDSA = ("gg18", "gg20", None)


@schemathesis.hook("map_body").apply_to(method="POST", path="/v1/keys")
def frost_keygen_only(context: Any, body: Any) -> Any:
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "refresh_every"}
        if body.get("protocol") in ECDSA:
            return {**body, "protocol": "frost"}
    return body


@schemathesis.hook("map_query").apply_to(method="POST", path_regex=r"^/v1/keys(/\{key_id\}/sign)?$")
def bounded_wait(context: Any, query: Any) -> Any:
    if not isinstance(query, dict) or query.get("wait") not in (True, "true"):
        return query
    timeout = query.get("timeout")
    if timeout is None or (isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > WAIT_CAP):
        return {**query, "timeout": WAIT_CAP}
    return query


PROTECTED_ENV = "MPC_SCHEMATHESIS_PROTECTED"
"""Comma-separated node, token and key ids that existed before the run: the run must not remove a node,
revoke a token, or disable, enable or archive a key it did not make (the stack's own, other tests')."""

_CHANGES_STATE = re.compile(r"/(disable|enable|reshare|refresh|recover|nonce-epoch)$")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    """A DELETE, disable, enable, reshare, refresh or nonce-epoch reset aimed at a protected id (say, one a
    stateful link took from `GET /v1/tokens` or `GET /v1/keys`) goes to an id that does not exist instead: the
    call and its checks still run, and the stack under test and the keys of other tests survive."""
    if case.method.upper() != "DELETE" and not _CHANGES_STATE.search(case.path):
        return
    protected = set(filter(None, os.environ.get(PROTECTED_ENV, "").split(",")))
    params = case.path_parameters or {}
    for name in ("node_id", "token_id", "key_id"):
        if params.get(name) in protected:
            case.path_parameters = {**params, name: f"spared-{uuid.uuid4().hex[:12]}"}
