"""Fuzz registration and heartbeat bodies: a (possibly hostile) node's bytes on their way into the API.

A valid signed registration and heartbeat (built the way `workers.registration.Registrar` builds them)
are mutated as JSON text and parsed the way the API parses them: the pydantic schema
(`NodeRegistration`, `NodeHeartbeat`), then the canonical signed bytes (`mpc.node_auth`) and the
signature check of `api.routes.nodes`. Property: a pydantic `ValidationError`, or the API's own
`ApiError` (401 bad signature, 422 timestamp), never any other exception (which the API would
answer with a 500).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from api.errors import ApiError
from api.routes.nodes import _fresh, _verify
from api.schemas import NodeHeartbeat, NodeRegistration
from mpc.identity import NodeIdentity
from mpc.node_auth import heartbeat_message, registration_message
from tests.fuzz.support import apply, case_id, fuzz, json_mutation, regressions
from workers.registration import Registrar

IDENTITY = NodeIdentity.generate("node-7")


def _registrar() -> Registrar:
    public = IDENTITY.public()
    return Registrar(api_url="http://api", api_token="t", node_id="node-7", signing_public_key=public.ed25519,
                     encryption_public_key=public.x25519, sign=IDENTITY.sign,
                     capabilities={"protocols": ["frost", "gg20"], "curves": {"ed25519": True}}, version="0.1.0")


def _registration_body() -> bytes:
    return json.dumps(_registrar().registration()).encode()


def _heartbeat_body() -> bytes:
    timestamp = time.time()
    return json.dumps({"timestamp": timestamp, "signature": IDENTITY.sign(heartbeat_message("node-7", timestamp)).hex()
                       }).encode()


REGISTRATION = _registration_body()
HEARTBEAT = _heartbeat_body()
"""Made once, so every example mutates the same bytes (valid for the 5 minutes of `_fresh`)."""


def _accept_registration(body: bytes) -> str:
    try:
        reg = NodeRegistration.model_validate_json(body)
        _fresh(reg.timestamp)
        _verify(reg.signing_public_key, registration_message(reg.model_dump()), reg.signature)
    except ValidationError:
        return "validation_error"
    except ApiError as exc:
        return exc.code
    return "ok"


def _accept_heartbeat(body: bytes) -> str:
    try:
        beat = NodeHeartbeat.model_validate_json(body)
        _fresh(beat.timestamp)
        _verify(IDENTITY.public().ed25519, heartbeat_message("node-7", beat.timestamp), beat.signature)
    except ValidationError:
        return "validation_error"
    except ApiError as exc:
        return exc.code
    return "ok"


def test_honest_bodies_are_accepted() -> None:
    assert _accept_registration(_registration_body()) == "ok"
    assert _accept_heartbeat(_heartbeat_body()) == "ok"


@fuzz(120)
@given(st.data())
def test_mutated_registration(data: st.DataObject) -> None:
    _accept_registration(apply(REGISTRATION, json_mutation(data, REGISTRATION)))


@fuzz(80)
@given(st.data())
def test_mutated_heartbeat(data: st.DataObject) -> None:
    _accept_heartbeat(apply(HEARTBEAT, json_mutation(data, HEARTBEAT)))


@fuzz(40)
@given(st.text(max_size=40), st.floats(allow_nan=True, allow_infinity=True))
def test_signed_bytes_are_total(node_id: str, timestamp: float) -> None:
    """`mpc.node_auth` encodes whatever a validated body holds (any text, any float), or refuses it
    with ValueError (text that is not valid Unicode), never another error."""
    try:
        heartbeat_message(node_id, timestamp)
        registration_message({"node_id": node_id, "timestamp": timestamp, "capabilities": {node_id: [timestamp]}})
    except UnicodeEncodeError:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in node_id)


@pytest.mark.parametrize("case", regressions("node-body"), ids=case_id)
def test_node_body_regressions(case: dict[str, Any]) -> None:
    body = _registration_body() if case["body"] == "registration" else _heartbeat_body()
    accept = _accept_registration if case["body"] == "registration" else _accept_heartbeat
    assert accept(apply(body, case["mutation"])) == case["expect"]
