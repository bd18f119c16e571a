"""Codec-server endpoints: operators decode payloads; nobody else does (SECURITY.md S7)."""

from __future__ import annotations

import asyncio
import base64

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from mpc.codec import EncryptionCodec
from tests.services import make_token


def _encoded(key_hex: str, data: bytes) -> dict:
    codec = EncryptionCodec.from_hex([key_hex])
    (encrypted,) = asyncio.run(codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=data)]))
    return json_format.MessageToDict(Payloads(payloads=[encrypted]))


def test_decode_needs_an_operator(api_server: str, admin_token: str, migrated_db: str, payload_codec_key: str) -> None:
    body = _encoded(payload_codec_key, b'{"hello": "operator"}')
    assert httpx.post(f"{api_server}/codec/decode", json=body).status_code == 401
    viewer = make_token(migrated_db, "viewer")
    assert httpx.post(f"{api_server}/codec/decode", json=body,
                      headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    reply = httpx.post(f"{api_server}/codec/decode", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    assert reply.status_code == 200
    assert base64.b64decode(reply.json()["payloads"][0]["data"]) == b'{"hello": "operator"}'


def test_cookie_login_and_cors(api_server: str, admin_token: str, payload_codec_key: str) -> None:
    with httpx.Client(base_url=api_server) as client:
        assert client.post("/codec/login", data={"token": "mpc_wrong"}).status_code == 401
        assert client.post("/codec/login", data={"token": admin_token}).status_code == 200
        body = _encoded(payload_codec_key, b"via cookie")
        reply = client.post("/codec/decode", json=body, headers={"Origin": "http://127.0.0.1:8233"})
        assert reply.status_code == 200
        assert reply.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        assert reply.headers["access-control-allow-credentials"] == "true"
    stranger = httpx.options(f"{api_server}/codec/decode", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in stranger.headers


def test_unknown_key_id_is_refused(api_server: str, admin_token: str) -> None:
    body = _encoded("11" * 32, b"other key")
    reply = httpx.post(f"{api_server}/codec/decode", json=body, headers={"Authorization": f"Bearer {admin_token}"})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "undecodable_payload"
