"""One gRPC call: authenticate from the metadata (or the client certificate), check the role, run the shared
operation in its own database session, and turn an `ApiError` into a gRPC status with the stable code.

Status codes follow the HTTP status of the same error; the stable code is the prefix of the status message,
the trailing metadata `mpc-error-code`, and the `reason` of a `google.rpc.ErrorInfo` in the rich status
details (with `field`, `node`, `nodes` in its metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from api.auth import bearer_credentials, check_role, resolve_principal
from api.errors import ApiError, database_error, validation_error
from api.operations import Caller
from api.state import AppState

log = logging.getLogger("mpc.api.rpc")

ERROR_DOMAIN = "mpc-signer"
ERROR_CODE_METADATA = "mpc-error-code"

STATUS_CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}
"""HTTP status of an `ApiError` -> gRPC status code (anything else: INTERNAL)."""

R = TypeVar("R")


def rich_status(error: ApiError) -> grpc.Status:
    """The gRPC status for an `ApiError`: code, `"<code>: <message>"`, and ErrorInfo plus `mpc-error-code`."""
    grpc_code = STATUS_CODES.get(error.status, grpc.StatusCode.INTERNAL)
    metadata = {}
    for name, value in error.extra.items():
        if value is not None:
            metadata[name] = ",".join(value) if isinstance(value, list | tuple) else str(value)
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=error.code, domain=ERROR_DOMAIN, metadata=metadata))
    status = rpc_status.to_status(status_pb2.Status(code=grpc_code.value[0], message=f"{error.code}: {error.message}",
                                                    details=[info]))
    return _Status(status.code, status.details, (*status.trailing_metadata, (ERROR_CODE_METADATA, error.code)))


class _Status(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[Any, ...]) -> None:
        self.code, self.details, self.trailing_metadata = code, details, trailing_metadata


def _client_certificate(context: grpc.aio.ServicerContext) -> bytes | None:
    """The verified client certificate of the TLS connection (PEM), when there is one."""
    certificates = (context.auth_context() or {}).get("x509_pem_cert") or []
    return certificates[0] if certificates else None


def _metadata(context: grpc.aio.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value if isinstance(value, str) else value.decode()
    return None


async def handle(state: AppState, context: grpc.aio.ServicerContext, roles: tuple[str, ...],
                 operation: Callable[[Caller], Awaitable[R]]) -> R:
    """Run `operation` for the authenticated caller; every failure ends the call with the mapped status."""
    try:
        async with state.sessions() as db:
            principal = await resolve_principal(
                state.settings, db, bearer=bearer_credentials(_metadata(context, "authorization")),
                client_certificate=_client_certificate(context))
            check_role(principal, roles)
            return await operation(Caller(state, db, principal))
    except ApiError as exc:
        error = exc
    except ValidationError as exc:
        error = validation_error(exc.errors())
    except DBAPIError as exc:
        error = database_error(exc)
    except Exception:
        log.exception("gRPC call failed")
        error = ApiError(500, "internal", "internal error")
    status = rich_status(error)
    await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)
    raise AssertionError("abort returned")  # pragma: no cover - context.abort always raises
