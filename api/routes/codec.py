"""Temporal codec-server endpoints: decode payloads for authenticated operators in the Web UI.

The stored history stays encrypted; only a caller with an operator (or admin) token gets
plaintext (SECURITY.md S7). The Web UI cannot add a bearer header, so an operator may instead sign
in once at `/codec/login`, which sets an HttpOnly cookie scoped to `/codec`; the UI then calls
with "include cross-origin credentials" (CORS allows the configured UI origins only).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import Principal, authenticate
from api.deps import DbSession, State
from api.errors import ApiError, error_responses
from api.schemas import PayloadsJson

router = APIRouter(prefix="/codec", tags=["codec"])
# The body is read in the handler (a malformed one is 400 invalid_payloads, not 422), so it is documented here.
_CODEC_ROUTE: dict[str, Any] = {
    "response_model": PayloadsJson, "response_model_exclude_unset": True,
    "responses": error_responses(400, 401, 403, 422, s422="a cookie or header that is not valid"),
    "openapi_extra": {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/PayloadsJson"}}}}},
}
COOKIE = "mpc_codec_token"
_bearer = HTTPBearer(auto_error=False)


async def codec_operator(
    db: DbSession,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Principal:
    token = credentials.credentials if credentials else cookie
    if state.settings.auth_type == "none":
        return Principal("anonymous", "anonymous", "admin")
    if not token:
        raise ApiError(401, "unauthorized", "codec endpoints need an operator token (bearer or /codec/login)")
    principal = await authenticate(db, token)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or expired token")
    if principal.role not in ("admin", "operator"):
        raise ApiError(403, "forbidden", "decoding payloads needs role operator")
    return principal


Operator = Annotated[Principal, Depends(codec_operator)]


async def _payloads(request: Request) -> list[Payload]:
    """The body as exactly the `PayloadsJson` schema says: anything else (not JSON, `null` where a list
    belongs, unknown fields, bytes that are not standard base64) is refused, never half-read."""
    try:
        body = PayloadsJson.model_validate_json(await request.body())
    except ValueError:
        raise ApiError(400, "invalid_payloads", "body must be a JSON Payloads message") from None
    return [p.to_payload() for p in body.payloads]


def _reply(payloads: list[Payload]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


@router.post("/encode", summary="Encrypt payloads (Temporal codec server)", **_CODEC_ROUTE)
async def encode(request: Request, state: State, _: Operator) -> dict[str, Any]:
    return _reply(await state.codec.encode(await _payloads(request)))


@router.post("/decode", summary="Decrypt payloads for the Temporal UI (Temporal codec server)", **_CODEC_ROUTE)
async def decode(request: Request, state: State, _: Operator) -> dict[str, Any]:
    payloads = await _payloads(request)  # a malformed body is `invalid_payloads`, not `undecodable_payload`
    try:
        return _reply(await state.codec.decode(payloads))
    except Exception as exc:
        raise ApiError(400, "undecodable_payload", f"cannot decode: {type(exc).__name__}") from None


_LOGIN_PAGE = """<!doctype html><title>MPC codec sign-in</title>
<h1>Decode payloads in the Temporal UI</h1>
<p>Paste an operator token. It is kept in an HttpOnly cookie that only the <code>/codec</code> endpoints
receive. Then, in the Temporal UI's Data Encoder settings, turn on "include cross-origin credentials".</p>
<form method="post"><input type="password" name="token" size="60" autocomplete="off">
<button type="submit">Sign in</button></form>"""


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page() -> HTMLResponse:
    return HTMLResponse(_LOGIN_PAGE)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(db: DbSession, state: State, token: Annotated[str, Form(max_length=200)]) -> HTMLResponse:
    principal = await authenticate(db, token)
    if principal is None or principal.role not in ("admin", "operator"):
        raise ApiError(401, "unauthorized", "not an operator token")
    response = HTMLResponse("<p>Signed in: the Temporal UI can now decode payloads.</p>")
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/codec",
                        secure=state.settings.tls_enabled, max_age=8 * 3600)
    return response
