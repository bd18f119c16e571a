"""Temporal's JSON payload conversion, with each dataclass's field types resolved once per class.

Why: the SDK's `value_to_type` calls `typing.get_type_hints` for every dataclass *value* it decodes, and our
modules use `from __future__ import annotations`, so every call evaluates each field's annotation string
again. A batch of 256 digests carries over a thousand `WireMessage`s per payload: decoding one took ~31 ms,
and a batch session decodes several such payloads (workflow input, each round's results, every activity's
input). With the types cached it takes ~6 ms (`bench/README.md`, run 7). The decoded values are the same, so
recorded histories replay unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from temporalio.converter import (
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
)
from temporalio.converter import value_to_type as sdk_value_to_type


@functools.cache
def _field_types(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, passed to __init__) for each field of the dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    return tuple((field.name, hints[field.name], field.init) for field in dataclasses.fields(cls))


class DataclassFieldsOnce(JSONTypeConverter):
    """The SDK's dataclass rule (unknown keys ignored, a missing required field fails in `__init__`,
    init=False fields restored afterwards), with the field types from `_field_types`."""

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict)):
            return JSONTypeConverter.Unhandled
        passed: dict[str, Any] = {}
        restored: dict[str, Any] = {}
        for name, field_type, init in _field_types(hint):
            if name not in value:
                continue
            try:
                converted = sdk_value_to_type(field_type, value[name], (self,))
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (passed if init else restored)[name] = converted
        obj = hint(**passed)
        for name, converted in restored.items():
            object.__setattr__(obj, name, converted)
        return obj


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default encodings, with `DataclassFieldsOnce` in the JSON one."""

    def __init__(self) -> None:
        super().__init__(*(
            JSONPlainPayloadConverter(custom_type_converters=[DataclassFieldsOnce()])
            if isinstance(converter, JSONPlainPayloadConverter) else converter
            for converter in DefaultPayloadConverter.default_encoding_payload_converters))


__all__ = ["DataclassFieldsOnce", "PayloadConverter"]
