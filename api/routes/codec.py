"""Temporal codec-server endpoints: decode payloads for authenticated operators in the Web UI.

The stored history stays encrypted; only a caller with an operator (or admin) token gets
plaintext, one request at a time (SECURITY.md S7). CORS allows the local Temporal UI origin.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import State, require_role
from api.errors import ApiError

router = APIRouter(prefix="/codec", tags=["codec"])


async def _payloads(request: Request) -> list[Payload]:
    try:
        body: Any = await request.json()
        return list(json_format.ParseDict(body, Payloads()).payloads)
    except Exception:
        raise ApiError(400, "invalid_payloads", "body must be a JSON Payloads message") from None


def _reply(payloads: list[Payload]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


@router.post("/encode", summary="Encrypt payloads (Temporal codec server)",
             dependencies=[require_role("operator")])
async def encode(request: Request, state: State) -> dict[str, Any]:
    return _reply(await state.codec.encode(await _payloads(request)))


@router.post("/decode", summary="Decrypt payloads for the Temporal UI (Temporal codec server)",
             dependencies=[require_role("operator")])
async def decode(request: Request, state: State) -> dict[str, Any]:
    try:
        return _reply(await state.codec.decode(await _payloads(request)))
    except Exception as exc:
        raise ApiError(400, "undecodable_payload", f"cannot decode: {type(exc).__name__}") from None
