"""JSON errors with stable codes: every failure the API returns has this shape.

``{"error": {"code": "key_not_found", "message": "...", "node": "node-2"}}``

Each route documents the error statuses it can answer in its OpenAPI `responses` (`error_responses`),
all with the `ErrorResponse` schema, so clients and schemathesis can check them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("mpc.api.errors")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. key_not_found")
    message: str
    field: str | None = Field(default=None, description="the request field at fault (validation errors)")
    node: str | None = Field(default=None, description="the node at fault or concerned")
    nodes: list[str] | None = Field(default=None, description="the nodes at fault or concerned")


class ErrorResponse(BaseModel):
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "the body is not parseable (not JSON, not UTF-8, or not the expected message)",
    401: "no bearer token, or an invalid, expired or revoked one",
    403: "the token's role may not make this call",
    404: "no such resource",
    409: "the request conflicts with the resource's state",
    422: "invalid input: `field` names the culprit; nothing was started or written",
    429: "too many sessions are running; retry later",
    503: "a backing service (Temporal, Vault) is unreachable; nothing was started or recorded",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses, each with the `ErrorResponse` schema.

    A description can be given per status as `s409="..."`.
    """
    return {status: {"model": ErrorResponse, "description": descriptions.get(f"s{status}", _DESCRIPTIONS[status])}
            for status in statuses}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}


_DATA_EXCEPTION = "22"  # SQLSTATE class 22: a value the database cannot store or compare


def validation_error(errors: Sequence[Any]) -> ApiError:
    """422 `validation_error` naming the first invalid field, from pydantic's `errors()` (REST and gRPC alike)."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = tuple(first.get("loc", ()))
    if loc and loc[0] in ("body", "query", "path"):  # where FastAPI found it; a field may be named `path` too
        loc = loc[1:]
    field = ".".join(str(p) for p in loc)
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return ApiError(422, "validation_error", f"{field}: {message}" if field else message, field=field or None)


def database_error(exc: DBAPIError) -> ApiError:
    """A value PostgreSQL refuses as data (SQLSTATE class 22: a NUL character in a string, a number out of
    range) is the client's input, not a server fault: 422. Anything else is a real 500, in the error shape."""
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if sqlstate.startswith(_DATA_EXCEPTION):
        return ApiError(422, "invalid_value", "a parameter holds a value the service cannot store (e.g. a NUL "
                                              "character)")
    log.error("database error", exc_info=exc)
    return ApiError(500, "internal", "database error")


def _allowed_methods(routers: Sequence[APIRouter], request: Request) -> str:
    """Every method of the path template the request matched. Starlette names only the first route that
    matches (`GET /v1/nodes/{id}` but not `DELETE`), since each method of a path is a route of its own.
    The first match decides the template, as it does in Starlette: `/v1/nodes/register` is the register
    path, not `/v1/nodes/{node_id}`."""
    template: str | None = None
    methods: set[str] = set()
    for route in (route for router in routers for route in router.routes):
        match, _ = route.matches(request.scope)
        path = getattr(route, "path", None)
        if match != Match.NONE and template in (None, path):
            template = path
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI, routers: Sequence[APIRouter] = ()) -> None:
    """`routers`: the app's routers, for the `Allow` header of a 405."""
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = validation_error(exc.errors())
        return JSONResponse(error_body(error.code, error.message, **error.extra), status_code=error.status)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        error = database_error(exc)
        return JSONResponse(error_body(error.code, error.message), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                403: "forbidden"}.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(routers, request) or headers.get("Allow", "")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        """Any other failure still answers in the error shape (the traceback goes to the log)."""
        return JSONResponse(error_body("internal", "internal error"), status_code=500)
