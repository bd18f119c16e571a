"""What schemathesis found, pinned down (issue 15 part 3): each case answers as the OpenAPI document says."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from google.protobuf import json_format
from nacl.signing import SigningKey
from temporalio.api.common.v1 import Payload, Payloads

from mpc.codec import EncryptionCodec
from tests.integration.helpers import create_key
from tests.stack import Stack


@pytest.mark.parametrize(("path", "allow"), [
    ("/v1/nodes/node-x", "DELETE, GET"),      # two routes on one path: both methods, not only the first
    ("/v1/nodes/register", "POST"),           # not /v1/nodes/{node_id}: the register path has POST only
    ("/v1/keys", "GET, POST"),
    ("/v1/keys/k/disable", "POST"),
])
def test_405_names_every_method_of_the_path(api_server: str, path: str, allow: str) -> None:
    reply = httpx.request("OPTIONS", f"{api_server}{path}")
    assert reply.status_code == 405
    assert reply.headers["allow"] == allow
    assert reply.json()["error"]["code"] == "method_not_allowed"


BAD_CODEC_BODIES = [
    b"not json",
    b"\xff\xfe",
    b"null",
    b"[]",
    b'{"payloads": null}',
    b'{"payloads": [], "extra": 1}',
    b'{"payloads": [{"data": "AAA"}]}',                       # not base64 (length)
    b'{"payloads": [{"data": "AA_A"}]}',                      # not standard base64
    b'{"payloads": [{"data": "AAAA", "unknown": true}]}',
    b'{"payloads": [{"metadata": {"encoding": 5}}]}',
]


@pytest.mark.parametrize("body", BAD_CODEC_BODIES)
@pytest.mark.parametrize("operation", ["encode", "decode"])
def test_codec_refuses_a_body_outside_its_schema(api_server: str, admin_token: str, operation: str,
                                                 body: bytes) -> None:
    """Decode used to answer `undecodable_payload` for a body it could not even parse, and both accepted
    `{"payloads": null}`: a malformed body is `invalid_payloads`, whatever the operation."""
    reply = httpx.post(f"{api_server}/codec/{operation}", content=body,
                       headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "invalid_payloads"


def test_codec_round_trip_keeps_the_payload(api_server: str, admin_token: str, payload_codec_key: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    plain = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                           "data": base64.b64encode(b'{"a": 1}').decode()}]}
    encoded = httpx.post(f"{api_server}/codec/encode", json=plain, headers=headers)
    assert encoded.status_code == 200, encoded.text
    (payload,) = json_format.ParseDict(encoded.json(), Payloads()).payloads
    codec = EncryptionCodec.from_hex([payload_codec_key])
    assert asyncio.run(codec.decode([payload])) == [Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')]
    decoded = httpx.post(f"{api_server}/codec/decode", json=encoded.json(), headers=headers)
    assert decoded.status_code == 200 and decoded.json() == plain


def test_a_wait_that_times_out_answers_202_with_the_running_session(stack: Stack) -> None:
    """`?wait=true&timeout=` on a session that waits for an approver: 202 and the session (it was 504 with
    the session id in the message only, a server error to every client and to schemathesis)."""
    approver = SigningKey.generate().verify_key.encode().hex()
    policy = {"approvers": [{"name": "alice", "public_key": approver}], "quorum": {"sign": 1}}
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=["p1", "p2", "p3"],
                         policy=policy)
        reply = api.post(f"/v1/keys/{key['key_id']}/sign", params={"wait": "true", "timeout": "1"},
                         json={"digest": "ab" * 32})
        assert reply.status_code == 202, reply.text
        session = reply.json()
        assert session["status"] == "awaiting_approval"
        assert api.get(f"/v1/sessions/{session['session_id']}").json()["status"] == "awaiting_approval"
