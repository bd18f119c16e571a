"""The committed gRPC code is what grpcio-tools makes of signer.proto today; every REST status maps to a gRPC
status with the stable code in the details, the trailer and the ErrorInfo (INTERNAL included, which no request
to the running stack can provoke: tests/integration/test_grpc.py hits the others)."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from api.errors import ApiError
from api.rpc.calls import ERROR_CODE_METADATA, STATUS_CODES, rich_status

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ["signer_pb2.py", "signer_pb2.pyi", "signer_pb2_grpc.py"]


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_grpc import generate
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / "api" / "rpc" / "v1" / name).read_bytes()
        committed = (ROOT / "api" / "rpc" / "v1" / name).read_bytes()
        assert fresh == committed, f"api/rpc/v1/{name} is stale: run .venv/bin/python scripts/gen_grpc.py"


def test_every_service_method_is_implemented() -> None:
    from api.rpc.servicers import KeysService, NodesService, SessionsService, TokensService
    from api.rpc.v1 import signer_pb2 as pb

    implemented = {"Keys": KeysService, "Sessions": SessionsService, "Nodes": NodesService, "Tokens": TokensService}
    for service in pb.DESCRIPTOR.services_by_name.values():
        cls = implemented[service.name]
        for method in service.methods:
            assert method.name in cls.__dict__, f"{service.name}.{method.name} falls back to UNIMPLEMENTED"


@pytest.mark.parametrize(("status", "expected"), [
    (400, grpc.StatusCode.INVALID_ARGUMENT), (401, grpc.StatusCode.UNAUTHENTICATED),
    (403, grpc.StatusCode.PERMISSION_DENIED), (404, grpc.StatusCode.NOT_FOUND),
    (409, grpc.StatusCode.FAILED_PRECONDITION), (422, grpc.StatusCode.INVALID_ARGUMENT),
    (429, grpc.StatusCode.RESOURCE_EXHAUSTED), (500, grpc.StatusCode.INTERNAL),
    (503, grpc.StatusCode.UNAVAILABLE), (418, grpc.StatusCode.INTERNAL),
])
def test_rich_status(status: int, expected: grpc.StatusCode) -> None:
    assert STATUS_CODES.get(status, grpc.StatusCode.INTERNAL) == expected
    result = rich_status(ApiError(status, "some_code", "what happened", field="digest", nodes=["p1", "p2"],
                                  node=None))
    assert result.code == expected and result.details == "some_code: what happened"
    trailing = dict(result.trailing_metadata)
    assert trailing[ERROR_CODE_METADATA] == "some_code"
    detail = status_pb2.Status.FromString(trailing["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    assert detail.code == expected.value[0] and detail.details[0].Unpack(info)
    assert info.reason == "some_code" and dict(info.metadata) == {"field": "digest", "nodes": "p1,p2"}


@pytest.mark.parametrize(("schema", "message", "request_message"), [
    ("KeyPublic", "Key", None), ("SessionPublic", "Session", None),
    ("KeyCreate", None, "CreateKeyRequest"), ("SignCreate", None, "SignRequest"),
])
def test_proto_messages_carry_every_field_of_the_rest_schemas(schema: str, message: str | None,
                                                              request_message: str | None) -> None:
    """One implementation behind both front ends: a field REST answers or takes must exist in the proto too
    (an answer with a field the proto lacks fails to convert; a request field the proto lacks is unreachable)."""
    import api.schemas as schemas
    from api.rpc.v1 import signer_pb2 as pb

    model = getattr(schemas, schema)
    proto = getattr(pb, message or str(request_message))
    missing = set(model.model_fields) - {f.name for f in proto.DESCRIPTOR.fields}
    assert not missing, f"{proto.DESCRIPTOR.name} lacks {sorted(missing)} of {schema}"
