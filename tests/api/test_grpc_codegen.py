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
    from api.rpc.servicers import BackupsService, KeysService, NodesService, SessionsService, TokensService
    from api.rpc.v1 import signer_pb2 as pb

    implemented = {"Keys": KeysService, "Sessions": SessionsService, "Backups": BackupsService, "Nodes": NodesService,
                   "Tokens": TokensService}
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
    ("api.schemas.KeyPublic", "Key", None), ("api.schemas.SessionPublic", "Session", None),
    ("api.schemas.KeyCreate", None, "CreateKeyRequest"), ("api.schemas.SignCreate", None, "SignRequest"),
    ("api.operations.wallet.XpubPublic", "Xpub", None), ("api.operations.wallet.AddressPublic", "Address", None),
    ("api.transactions.TransactionCreate", None, "TransactionRequest"),
    ("api.recover.RecoverCreate", None, "RecoverRequest"), ("api.recover.RecoverHolder", None, "RecoverHolder"),
    ("api.backups.BackupPublic", "Backup", None), ("api.backups.BackupList", "BackupList", None),
    ("api.backups.BackupStarted", "BackupStarted", None),
    ("api.operations.nodes.NonceEpochPublic", "NonceEpoch", None), ("api.schemas.NodePublic", "Node", None),
])
def test_proto_messages_carry_every_field_of_the_rest_schemas(schema: str, message: str | None,
                                                              request_message: str | None) -> None:
    """One implementation behind both front ends: a field REST answers or takes must exist in the proto too
    (an answer with a field the proto lacks fails to convert; a request field the proto lacks is unreachable).
    A request's free-form object may come as JSON text, `<name>_json` (api/rpc/convert.py `body`)."""
    import importlib

    from api.rpc.v1 import signer_pb2 as pb

    module, _, name = schema.rpartition(".")
    model = getattr(importlib.import_module(module), name)
    proto = getattr(pb, message or str(request_message))
    names = {f.name for f in proto.DESCRIPTOR.fields}
    if request_message:
        names |= {n.removesuffix("_json") for n in names}
    missing = set(model.model_fields) - names
    assert not missing, f"{proto.DESCRIPTOR.name} lacks {sorted(missing)} of {schema}"


def test_json_text_fields_reach_the_rest_body_exactly() -> None:
    """An Ethereum amount beyond a double's 53 bits stays exact (a Struct would round it); text that is not JSON
    is 422 `validation_error` naming the field; an empty map the body requires is an empty object."""
    import json

    from pydantic import ValidationError

    from api.recover import RecoverCreate
    from api.rpc.convert import body
    from api.rpc.v1 import signer_pb2 as pb
    from api.transactions import TransactionCreate

    tx = {"type": 2, "chainId": 1, "nonce": 0, "to": "0x000000000000000000000000000000000000dEaD",
          "value": 10**30 + 1, "gas": 21000, "maxFeePerGas": 30000000000, "maxPriorityFeePerGas": 1000000000}
    request = pb.TransactionRequest(key_id="k", chain="ethereum", transaction_json=json.dumps(tx), wait=True,
                                    derivation_path="m/0/1")
    parsed = body(request, TransactionCreate, json_text=("transaction_json",))
    assert parsed == TransactionCreate(chain="ethereum", transaction=tx, derivation_path="m/0/1")
    assert isinstance(parsed.transaction, dict) and parsed.transaction["value"] == 10**30 + 1

    with pytest.raises(ApiError) as bad:
        body(pb.TransactionRequest(chain="ethereum", transaction_json="{'type': 2}"), TransactionCreate,
             json_text=("transaction_json",))
    assert (bad.value.status, bad.value.code, bad.value.extra["field"]) == \
        (422, "validation_error", "transaction_json")
    with pytest.raises(ValidationError):  # REST's rule: a bitcoin request has a psbt
        body(pb.TransactionRequest(chain="bitcoin", transaction="AQAA"), TransactionCreate,
             json_text=("transaction_json",))

    recover = pb.RecoverRequest(key_id="k", backup_id="b", manifest="e30=", manifest_signature="{}", threshold=2,
                                holders=[pb.RecoverHolder(node_id=n, party_id=i) for i, n in ((1, "p1"), (2, "p2"))],
                                package_json='{"epoch": 1}')
    parsed_recover = body(recover, RecoverCreate, json_text=("package_json",))
    assert parsed_recover.package == {"epoch": 1} and parsed_recover.shares == {}


def test_a_transactions_only_key_converts() -> None:
    """REST's `policy` of a key that signs transactions only carries `allow_raw_digest: false` (every ethereum,
    bitcoin and solana key by default): the gRPC answer must hold it, not fail to convert (INTERNAL)."""
    from datetime import UTC, datetime

    from api.rpc.convert import message
    from api.rpc.v1 import signer_pb2 as pb
    from api.schemas import KeyPublic
    from mpc.intents import KeyPolicy

    policy = KeyPolicy((), {}, False).to_dict()
    assert policy["allow_raw_digest"] is False
    key = KeyPublic(key_id="k", public_key=None, verifying_key=None, protocol="gg20", curve="secp256k1", threshold=2,
                    total_nodes=2, participants=["p4", "p5"], chain_type="ethereum", address=None, status="pending",
                    epoch=0, description=None, tags={}, policy=policy, allow_raw_digest=False,
                    created_at=datetime.now(UTC))
    converted = message(key, pb.Key)
    assert converted.policy.HasField("allow_raw_digest") and not converted.policy.allow_raw_digest
    assert not message(key.model_copy(update={"policy": KeyPolicy((), {}).to_dict()}), pb.Key).policy.HasField(
        "allow_raw_digest")


@pytest.mark.parametrize(("loc", "field"), [
    (("query", "path"), "path"),  # the wallet's ?path= parameter: named like FastAPI's location, and kept
    (("path", "key_id"), "key_id"), (("body", "holders", 0, "party_id"), "holders.0.party_id"),
    (("holders", 0, "party_id"), "holders.0.party_id"),  # gRPC: a pydantic error has no location
    (("body",), None),
])
def test_validation_error_names_the_field(loc: tuple[object, ...], field: str | None) -> None:
    from api.errors import validation_error

    error = validation_error([{"loc": loc, "msg": "Field required"}])
    assert (error.status, error.code, error.extra["field"]) == (422, "validation_error", field)
    assert error.message == (f"{field}: Field required" if field else "Field required")
