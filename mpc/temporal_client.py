"""Temporal client with the encrypting payload codec and encoded failure attributes (SECURITY.md S4), and the
JSON conversion that resolves dataclass field types once (mpc/temporal_json.py)."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from mpc.codec import EncryptionCodec
from mpc.temporal_json import PayloadConverter


def data_converter(codec: EncryptionCodec) -> DataConverter:
    return dataclasses.replace(
        DataConverter.default,
        payload_converter_class=PayloadConverter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(address: str, namespace: str, codec: EncryptionCodec, *, runtime: Runtime | None = None) -> Client:
    """`runtime`: a worker's own (mpc/node_metrics.py `sdk_runtime`, for the SDK's metrics); default: the SDK's."""
    return await Client.connect(address, namespace=namespace, data_converter=data_converter(codec), runtime=runtime)
