"""Between the API's pydantic schemas and the protobuf messages: through their JSON form, since the messages
mirror the REST bodies field by field (datetimes as Timestamps, free-form objects as Structs)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel

from api.errors import ApiError
from api.pagination import MAX_OFFSET

M = TypeVar("M", bound=Message)
B = TypeVar("B", bound=BaseModel)

START_FIELDS = ("idempotency_key", "wait", "timeout")
"""Request fields that are REST query parameters or headers, not body fields."""
WAIT_TIMEOUT_MAX = 600.0  # REST: ?timeout (gt=0, le=600)
IDEMPOTENCY_KEY_MAX = 200  # REST: the Idempotency-Key header (max_length=200)


def message(model: BaseModel | dict[str, Any], cls: type[M]) -> M:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return json_format.ParseDict(data, cls())


def fields(request: Message, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the client set (unset optional and empty repeated fields left out, as absent JSON keys)."""
    data = json_format.MessageToDict(request, preserving_proto_field_name=True)
    for name in exclude:
        data.pop(name, None)
    return data


def body(request: Message, model: type[B], *, exclude: tuple[str, ...] = (), json_text: tuple[str, ...] = ()) -> B:
    """The request as the REST body schema, with its validation (a `ValidationError` is 422 `validation_error`).

    `json_text`: `<name>_json` fields holding a JSON object as text, which become the body's `<name>`, parsed as
    REST parses its body (integers stay exact). An empty repeated or map field the body requires is an empty
    list or object: proto3 cannot tell empty from absent, and REST's body must name the field.
    """
    data = fields(request, exclude=("key_id", "session_id", *START_FIELDS, *exclude))
    for name in json_text:
        if name in data:
            data[name.removesuffix("_json")] = _parse_json(data.pop(name), name)
    for field in request.DESCRIPTOR.fields:
        target = model.model_fields.get(field.name)
        if field.is_repeated and field.name not in data and target is not None and target.is_required():
            data[field.name] = {} if _is_map(field) else []
    return model.model_validate(data)


def _parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ApiError(422, "validation_error", f"{name}: not JSON text ({exc})", field=name) from None


def _is_map(field: Any) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def required(request: Any, name: str, *, max_length: int) -> str:
    """A required REST query parameter (a proto3 `optional string`): unset or too long is 422 `validation_error`,
    as REST answers a missing or overlong parameter."""
    if not request.HasField(name):
        raise ApiError(422, "validation_error", f"{name}: Field required", field=name)
    value: str = getattr(request, name)
    if len(value) > max_length:
        raise ApiError(422, "validation_error", f"{name}: String should have at most {max_length} characters",
                       field=name)
    return value


def start_options(request: Any) -> tuple[str | None, bool, float | None]:
    """(idempotency_key, wait, timeout) with the bounds REST's header and query parameters have."""
    key = request.idempotency_key if request.HasField("idempotency_key") else None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise ApiError(422, "validation_error", f"idempotency_key: at most {IDEMPOTENCY_KEY_MAX} characters",
                       field="idempotency_key")
    wait = bool(getattr(request, "wait", False))
    timeout = request.timeout if hasattr(request, "timeout") and request.HasField("timeout") else None
    if timeout is not None and not 0 < timeout <= WAIT_TIMEOUT_MAX:
        raise ApiError(422, "validation_error", f"timeout: must be greater than 0 and at most {WAIT_TIMEOUT_MAX:g}",
                       field="timeout")
    return key, wait, timeout


def page(request: Any, limit_max: int) -> tuple[int, int]:
    """(limit, offset) with REST's defaults and bounds."""
    limit = request.limit if request.HasField("limit") else 100
    offset = request.offset if request.HasField("offset") else 0
    if not 1 <= limit <= limit_max:
        raise ApiError(422, "validation_error", f"limit: must be between 1 and {limit_max}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise ApiError(422, "validation_error", f"offset: must be between 0 and {MAX_OFFSET}", field="offset")
    return limit, offset


def optional(request: Any, name: str) -> str | None:
    return getattr(request, name) if request.HasField(name) else None
