"""The gRPC API against the real stack, through the client generated from api/rpc/v1/signer.proto: health and
reflection, keygen and signing (the signature verified independently), the same sessions as REST, the wallet
(xpub, addresses, a chain transaction), backups and a node's nonce-epoch reset, and every error status the API
maps, each compared with the REST answer to the same request (one implementation)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from nacl.signing import SigningKey

from api.rpc.calls import ERROR_CODE_METADATA, STATUS_CODES
from api.rpc.v1 import signer_pb2 as pb
from api.rpc.v1 import signer_pb2_grpc as rpc
from mpc.devstack.ports import free_port
from mpc.devstack.process import ManagedProcess
from mpc.node_auth import registration_message
from tests.integration.helpers import check_signature
from tests.services import _run_coroutine, make_token, start_api
from tests.stack import Stack

SIGNERS = ["p1", "p2", "p3"]


class Client:
    """The generated stubs on one channel, with a bearer token in the metadata of every call."""

    def __init__(self, target: str, token: str | None) -> None:
        self.channel = grpc.insecure_channel(target)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.keys = rpc.KeysStub(self.channel)
        self.sessions = rpc.SessionsStub(self.channel)
        self.nodes = rpc.NodesStub(self.channel)
        self.backups = rpc.BackupsStub(self.channel)
        self.tokens = rpc.TokensStub(self.channel)

    def __call__(self, method: Callable[..., Any], request: Any, timeout: float = 120) -> Any:
        return method(request, metadata=self.metadata, timeout=timeout)

    def close(self) -> None:
        self.channel.close()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[Client]:
    client = Client(stack.grpc_target, stack.admin_token)
    yield client
    client.close()


@pytest.fixture(scope="module")
def key(admin: Client) -> dict[str, Any]:
    created = admin(admin.keys.CreateKey, pb.CreateKeyRequest(
        protocol="frost", chain_type="ed25519", threshold=2, nodes=SIGNERS, wait=True,
        idempotency_key=f"grpc-{uuid.uuid4()}"))
    assert created.session.status == "completed", created.session.error
    assert created.session.operation == "keygen" and created.key.status == "active"
    return json_format.MessageToDict(created.key, preserving_proto_field_name=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_health_and_reflection(stack: Stack, admin: Client) -> None:
    health = health_pb2_grpc.HealthStub(admin.channel)
    for service in ("", "mpc.signer.v1.Keys", "mpc.signer.v1.Sessions", "mpc.signer.v1.Backups",
                    "mpc.signer.v1.Nodes", "mpc.signer.v1.Tokens"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING, service
    reflection = reflection_pb2_grpc.ServerReflectionStub(admin.channel)
    answers = list(reflection.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="mpc.signer.v1.Keys"),
    ]), timeout=10))
    listed = {s.name for s in answers[0].list_services_response.service}
    assert {"mpc.signer.v1.Keys", "mpc.signer.v1.Sessions", "mpc.signer.v1.Backups", "mpc.signer.v1.Nodes",
            "mpc.signer.v1.Tokens", "grpc.health.v1.Health"} <= listed
    assert answers[1].file_descriptor_response.file_descriptor_proto  # a client can build the methods from it


def test_keygen_sign_and_verify_independently(stack: Stack, admin: Client, key: dict[str, Any]) -> None:
    digest = _digest("signed over gRPC")
    signed = admin(admin.keys.Sign, pb.SignRequest(key_id=key["key_id"], digest=digest, wait=True))
    assert signed.status == "completed", signed.error
    assert signed.message_hash == digest and signed.operation == "sign"
    check_signature(key, digest, signed.signature)  # OpenSSL and libsodium

    # the same session through REST and gRPC: one implementation, one answer
    with stack.client() as client:
        rest = client.get(f"/v1/sessions/{signed.session_id}").json()
        rest_key = client.get(f"/v1/keys/{key['key_id']}").json()
    ours = json_format.MessageToDict(admin(admin.sessions.GetSession, pb.GetSessionRequest(
        session_id=signed.session_id)), preserving_proto_field_name=True)
    for field in ("session_id", "key_id", "workflow_id", "operation", "status", "participants", "message_hash",
                  "signature", "total_rounds"):
        assert ours[field] == rest[field], field
    got = admin(admin.keys.GetKey, pb.GetKeyRequest(key_id=key["key_id"]))
    assert (got.public_key, got.address, got.threshold, list(got.participants)) == \
        (rest_key["public_key"], rest_key["address"], rest_key["threshold"], rest_key["participants"])
    listed = admin(admin.sessions.ListSessions, pb.ListSessionsRequest(key_id=key["key_id"], limit=10))
    assert signed.session_id in {s.session_id for s in listed.sessions} and listed.total >= 2
    nodes = admin(admin.nodes.ListNodes, pb.ListNodesRequest())
    assert set(SIGNERS) <= {n.node_id for n in nodes.nodes if n.status == "online"}
    assert all("paillier_preparams" in n.pool_levels for n in nodes.nodes if n.node_id in SIGNERS)  # heartbeats
    epochs = admin(admin.keys.ListEpochs, pb.GetKeyRequest(key_id=key["key_id"]))
    assert [e.epoch for e in epochs.epochs] == [0] and epochs.epochs[0].active


def test_batch_sign_over_grpc(stack: Stack, admin: Client, key: dict[str, Any]) -> None:
    digests = [_digest(f"batch over gRPC {n}") for n in range(3)]
    signed = admin(admin.keys.Sign, pb.SignRequest(key_id=key["key_id"], digests=digests, wait=True))
    assert signed.status == "completed", signed.error
    assert list(signed.message_hashes) == digests and len(signed.signatures) == 3
    for digest, signature in zip(digests, signed.signatures, strict=True):
        check_signature(key, digest, signature)
    with stack.client() as client:
        rest = client.get(f"/v1/sessions/{signed.session_id}").json()
    assert (rest["message_hashes"], rest["signatures"]) == (digests, list(signed.signatures))
    duplicate = _code(_error(admin, admin.keys.Sign, pb.SignRequest(key_id=key["key_id"],
                                                                    digests=[digests[0], digests[0]])))
    assert duplicate[0] == grpc.StatusCode.INVALID_ARGUMENT, duplicate


def test_idempotency_key_is_bound_to_the_request(admin: Client, key: dict[str, Any]) -> None:
    idem = f"grpc-sign-{uuid.uuid4()}"
    first = admin(admin.keys.Sign, pb.SignRequest(key_id=key["key_id"], digest=_digest("once"), wait=True,
                                                  idempotency_key=idem))
    again = admin(admin.keys.Sign, pb.SignRequest(key_id=key["key_id"], digest=_digest("once"),
                                                  idempotency_key=idem))
    assert again.session_id == first.session_id and again.signature == first.signature
    error = _error(admin, admin.keys.Sign, pb.SignRequest(key_id=key["key_id"], digest=_digest("other"),
                                                          idempotency_key=idem))
    assert _code(error) == (grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key_reused")


def _error(client: Client, method: Callable[..., Any], request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        client(method, request, timeout=60)
    return caught.value


def _code(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """(status, stable code), after checking the code is in all three places the API puts it."""
    trailing = dict(error.trailing_metadata() or ())
    code = trailing[ERROR_CODE_METADATA]
    assert error.details().startswith(f"{code}: "), error.details()
    status = rpc_status.from_call(error)
    assert status is not None and status.code == error.code().value[0]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.reason == code and info.domain == "mpc-signer"
    return error.code(), code


@pytest.fixture(scope="module")
def viewer_token(migrated_db: str) -> str:
    return make_token(migrated_db, "viewer")


@pytest.fixture(scope="module")
def degraded_api(stack: Stack) -> Iterator[tuple[str, str]]:
    """A second API process on the same database whose Temporal is unreachable and which allows one running
    signature: (REST URL, gRPC target)."""
    closed = free_port()
    env = {**stack.env, "TEMPORAL_ADDRESS": f"127.0.0.1:{closed}", "MAX_CONCURRENT_SIGNINGS": "1",
           "GRPC_PORT": str(free_port())}
    process: ManagedProcess
    process, url = start_api(env, stack.log_dir, name="api-grpc-degraded")
    try:
        yield url, f"127.0.0.1:{env['GRPC_PORT']}"
    finally:
        process.stop()


def _running_sign_row(database_url: str, key_id: str, add: bool, session_id: str) -> None:
    """Make the database hold (or no longer hold) one running signing session: what the capacity check counts."""
    from mpc.db import create_engine, session_factory
    from mpc.db.models import SigningSession

    async def change() -> None:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine)() as db:
                if add:
                    db.add(SigningSession(session_id=session_id, key_id=key_id, workflow_id=f"capacity-{session_id}",
                                          operation="sign", protocol="frost", status="running", participants=[]))
                elif (row := await db.get(SigningSession, session_id)) is not None:
                    await db.delete(row)
                await db.commit()
        finally:
            await engine.dispose()

    _run_coroutine(change())


RECOVER_BODY: dict[str, Any] = {
    "backup_id": "set-x", "manifest": base64.b64encode(b"{}").decode(), "manifest_signature": "{}", "threshold": 2,
    "holders": [{"node_id": "p1", "party_id": 1}, {"node_id": "p4", "party_id": 4}], "package": {},
    "shares": {"p1": "", "p4": ""}}
"""A recovery whose manifest is not one: refused (before anything starts) by REST and gRPC alike."""


def _recover_request(key_id: str) -> pb.RecoverRequest:
    body = {**RECOVER_BODY, "package_json": json.dumps(RECOVER_BODY["package"])}
    del body["package"]
    return json_format.ParseDict({**body, "key_id": key_id}, pb.RecoverRequest())


def test_every_mapped_error_status_with_the_rest_code(stack: Stack, admin: Client, key: dict[str, Any],
                                                     viewer_token: str, degraded_api: tuple[str, str],
                                                     migrated_db: str) -> None:
    key_id, unknown = key["key_id"], str(uuid.uuid4())
    anonymous = Client(stack.grpc_target, None)
    forged = Client(stack.grpc_target, "mpc_not-a-token")
    viewer = Client(stack.grpc_target, viewer_token)
    rest_url, degraded_target = degraded_api
    degraded = Client(degraded_target, stack.admin_token)
    admin_headers = stack.headers
    cases: list[tuple[Client, Any, Any, str, str, dict[str, str], Any, grpc.StatusCode, str]] = [
        # client, method, request, REST method, path, REST headers, REST body, status, code
        (anonymous, anonymous.keys.ListKeys, pb.ListKeysRequest(), "GET", "/v1/keys", {}, None,
         grpc.StatusCode.UNAUTHENTICATED, "unauthorized"),
        (forged, forged.keys.GetKey, pb.GetKeyRequest(key_id=key_id), "GET", f"/v1/keys/{key_id}",
         {"Authorization": "Bearer mpc_not-a-token"}, None, grpc.StatusCode.UNAUTHENTICATED, "unauthorized"),
        (viewer, viewer.keys.Sign, pb.SignRequest(key_id=key_id, digest=_digest("x")), "POST",
         f"/v1/keys/{key_id}/sign", {"Authorization": f"Bearer {viewer_token}"}, {"digest": _digest("x")},
         grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
        (viewer, viewer.tokens.ListTokens, pb.ListTokensRequest(), "GET", "/v1/tokens",
         {"Authorization": f"Bearer {viewer_token}"}, None, grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
        (admin, admin.keys.GetKey, pb.GetKeyRequest(key_id=unknown), "GET", f"/v1/keys/{unknown}", admin_headers,
         None, grpc.StatusCode.NOT_FOUND, "key_not_found"),
        (admin, admin.sessions.GetSession, pb.GetSessionRequest(session_id=unknown), "GET",
         f"/v1/sessions/{unknown}", admin_headers, None, grpc.StatusCode.NOT_FOUND, "session_not_found"),
        (admin, admin.nodes.ApproveNode, pb.NodeRequest(node_id="no-such-node"), "POST",
         "/v1/nodes/no-such-node/approve", admin_headers, None, grpc.StatusCode.NOT_FOUND, "node_not_found"),
        (admin, admin.keys.Sign, pb.SignRequest(key_id=key_id, digest="zz"), "POST", f"/v1/keys/{key_id}/sign",
         admin_headers, {"digest": "zz"}, grpc.StatusCode.INVALID_ARGUMENT, "validation_error"),
        (admin, admin.keys.CreateKey, pb.CreateKeyRequest(chain_type="ed25519", threshold=4, nodes=SIGNERS),
         "POST", "/v1/keys", admin_headers, {"chain_type": "ed25519", "threshold": 4, "nodes": SIGNERS},
         grpc.StatusCode.INVALID_ARGUMENT, "invalid_threshold"),
        (admin, admin.keys.GetKey, pb.GetKeyRequest(key_id="nul\x00byte"), "GET", "/v1/keys/nul%00byte",
         admin_headers, None, grpc.StatusCode.INVALID_ARGUMENT, "invalid_value"),
        (admin, admin.keys.EnableKey, pb.KeyStateChangeRequest(key_id=key_id), "POST", f"/v1/keys/{key_id}/enable",
         admin_headers, None, grpc.StatusCode.FAILED_PRECONDITION, "key_not_disabled"),
        (degraded, degraded.keys.CreateKey, pb.CreateKeyRequest(protocol="frost", chain_type="ed25519", threshold=2,
                                                                nodes=SIGNERS),
         "POST", f"{rest_url}/v1/keys", admin_headers,
         {"protocol": "frost", "chain_type": "ed25519", "threshold": 2, "nodes": SIGNERS},
         grpc.StatusCode.UNAVAILABLE, "temporal_unavailable"),
        # the operations gRPC gained with the wallet and backups (issues 11 and 13)
        (admin, admin.backups.GetBackup, pb.GetBackupRequest(backup_id=unknown), "GET", f"/v1/backups/{unknown}",
         admin_headers, None, grpc.StatusCode.NOT_FOUND, "backup_not_found"),
        (viewer, viewer.backups.RunBackup, pb.RunBackupRequest(), "POST", "/v1/backups",
         {"Authorization": f"Bearer {viewer_token}"}, None, grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
        (admin, admin.nodes.ResetNonceEpoch, pb.NodeRequest(node_id="no-such-node"), "POST",
         "/v1/nodes/no-such-node/nonce-epoch", admin_headers, None, grpc.StatusCode.NOT_FOUND, "node_not_found"),
        (admin, admin.keys.GetXpub, pb.GetKeyRequest(key_id=key_id), "GET", f"/v1/keys/{key_id}/xpub", admin_headers,
         None, grpc.StatusCode.INVALID_ARGUMENT, "derivation_not_supported"),
        (admin, admin.keys.SignTransaction, pb.TransactionRequest(key_id=key_id, chain="solana", transaction="AQAA"),
         "POST", f"/v1/keys/{key_id}/transactions", admin_headers, {"chain": "solana", "transaction": "AQAA"},
         grpc.StatusCode.INVALID_ARGUMENT, "chain_mismatch"),
        (admin, admin.keys.RecoverKey, _recover_request(unknown), "POST", f"/v1/keys/{unknown}/recover",
         admin_headers, RECOVER_BODY, grpc.StatusCode.NOT_FOUND, "key_not_found"),
        (admin, admin.keys.RecoverKey, _recover_request(key_id), "POST", f"/v1/keys/{key_id}/recover",
         admin_headers, RECOVER_BODY, grpc.StatusCode.INVALID_ARGUMENT, "invalid_manifest"),
        (viewer, viewer.keys.RecoverKey, _recover_request(key_id), "POST", f"/v1/keys/{key_id}/recover",
         {"Authorization": f"Bearer {viewer_token}"}, RECOVER_BODY, grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
    ]
    seen = set()
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60) as client:  # no default credentials
            for grpc_client, method, request, verb, path, headers, body, status, code in cases:
                assert _code(_error(grpc_client, method, request)) == (status, code), (path, code)
                reply = client.request(verb, path, headers=headers, json=body)
                assert reply.json()["error"]["code"] == code, (path, reply.text)
                assert STATUS_CODES[reply.status_code] == status, (path, reply.status_code)
                seen.add(status)

            # RESOURCE_EXHAUSTED: the degraded API allows one running signature, and the database holds one
            running = str(uuid.uuid4())
            _running_sign_row(migrated_db, key_id, True, running)
            try:
                request = pb.SignRequest(key_id=key_id, digest=_digest("busy"))
                assert _code(_error(degraded, degraded.keys.Sign, request)) == \
                    (grpc.StatusCode.RESOURCE_EXHAUSTED, "too_many_sessions")
                reply = httpx.post(f"{rest_url}/v1/keys/{key_id}/sign", headers=admin_headers,
                                   json={"digest": _digest("busy")}, timeout=30)
                assert reply.status_code == 429 and reply.json()["error"]["code"] == "too_many_sessions"
                seen.add(grpc.StatusCode.RESOURCE_EXHAUSTED)
            finally:
                _running_sign_row(migrated_db, key_id, False, running)
    finally:
        for extra in (anonymous, forged, viewer, degraded):
            extra.close()
    # every status the API maps, except INTERNAL (a server fault no request can provoke; tests/api/test_grpc_units)
    assert seen == set(STATUS_CODES.values()) - {grpc.StatusCode.INTERNAL}
    # nothing was started by the refused calls: the key still has only its own sessions, none pending
    listed = admin(admin.sessions.ListSessions, pb.ListSessionsRequest(key_id=key_id, status="pending"))
    assert listed.total == 0


# ---- the wallet, backups and a node's nonce epoch: the same answers as REST -------------------------------------

CHILD = "m/0/3"


@pytest.fixture(scope="module")
def eth_key(admin: Client) -> pb.Key:
    """A GG20 Ethereum key made over gRPC, on p4 and p5: the nodes with committed pre-parameter sets to spare
    (tests/stack.py gives each six; the other ECDSA tests use most of p1..p4's)."""
    created = admin(admin.keys.CreateKey, pb.CreateKeyRequest(
        protocol="gg20", chain_type="ethereum", threshold=2, nodes=["p4", "p5"], wait=True, timeout=240,
        idempotency_key=f"grpc-eth-{uuid.uuid4()}"), timeout=300)
    assert created.session.status == "completed", created.session.error
    assert not created.key.allow_raw_digest  # an ethereum key signs transactions only
    return created.key


def test_xpub_and_addresses_match_rest(stack: Stack, admin: Client, eth_key: pb.Key) -> None:
    key_id = eth_key.key_id
    with stack.client() as client:
        rest_xpub = client.get(f"/v1/keys/{key_id}/xpub").json()
        rest_child = client.get(f"/v1/keys/{key_id}/addresses", params={"path": CHILD}).json()
        rest_root = client.get(f"/v1/keys/{key_id}/addresses", params={"path": "m"}).json()
        rest_errors = {path: client.get(f"/v1/keys/{key_id}/addresses", params={"path": path}).json()["error"]
                       for path in ("m/0'/1", "m/x")}
        rest_missing = client.get(f"/v1/keys/{key_id}/addresses").json()["error"]
    assert admin(admin.keys.GetXpub, pb.GetKeyRequest(key_id=key_id)) == json_format.ParseDict(rest_xpub, pb.Xpub())
    child = admin(admin.keys.GetAddress, pb.AddressRequest(key_id=key_id, path=CHILD))
    assert child == json_format.ParseDict(rest_child, pb.Address())
    assert child.path == CHILD and child.address.startswith("0x") and child.address != eth_key.address
    root = admin(admin.keys.GetAddress, pb.AddressRequest(key_id=key_id, path="m"))
    assert root == json_format.ParseDict(rest_root, pb.Address()) and root.address == eth_key.address
    for path, rest in rest_errors.items():  # hardened, then malformed: the same stable code and message
        error = _error(admin, admin.keys.GetAddress, pb.AddressRequest(key_id=key_id, path=path))
        assert _code(error) == (grpc.StatusCode.INVALID_ARGUMENT, rest["code"]), path
        assert error.details() == f"{rest['code']}: {rest['message']}"
    assert [rest["code"] for rest in rest_errors.values()] == ["hardened_not_possible", "invalid_derivation_path"]
    missing = _error(admin, admin.keys.GetAddress, pb.AddressRequest(key_id=key_id))  # REST: no ?path=
    assert rest_missing["code"] == "validation_error"
    assert _code(missing) == (grpc.StatusCode.INVALID_ARGUMENT, "validation_error")
    assert missing.details() == f"validation_error: {rest_missing['message']}"


def test_ethereum_transaction_signed_over_grpc(stack: Stack, admin: Client, eth_key: pb.Key) -> None:
    """An EIP-1559 transfer whose amount needs more than a double's 53 bits (JSON text keeps it exact); the
    signed transaction recovers to the child's address, and the session is REST's session."""
    from eth_account import Account
    from eth_account.typed_transactions import TypedTransaction
    from hexbytes import HexBytes

    child = admin(admin.keys.GetAddress, pb.AddressRequest(key_id=eth_key.key_id, path=CHILD)).address
    value = 10**20 + 7
    tx = {"type": 2, "chainId": 1337, "nonce": 0, "to": "0x000000000000000000000000000000000000dEaD",
          "value": value, "gas": 21000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "data": "0x",
          "accessList": []}
    request = pb.TransactionRequest(key_id=eth_key.key_id, chain="ethereum", transaction_json=json.dumps(tx),
                                    derivation_path=CHILD, wait=True)
    signed = admin(admin.keys.SignTransaction, request, timeout=240)
    assert signed.status == "completed", signed.error
    summary = json_format.MessageToDict(signed.transaction)
    result = json_format.MessageToDict(signed.result)
    assert (summary["from"], summary["amount"], signed.derivation_path) == (child, str(value), CHILD)
    assert Account.recover_transaction(result["raw_transaction"]) == child  # eth-account, independently
    decoded = TypedTransaction.from_bytes(HexBytes(result["raw_transaction"])).as_dict()
    assert (decoded["value"], decoded["chainId"], bytes(decoded["to"]).hex()) == (value, 1337, "00" * 18 + "dead")
    with stack.client() as client:
        rest = client.get(f"/v1/sessions/{signed.session_id}").json()
    assert json_format.ParseDict(rest, pb.Session()) == signed
    assert admin(admin.sessions.GetSession, pb.GetSessionRequest(session_id=signed.session_id)) == signed

    again = pb.TransactionRequest(key_id=eth_key.key_id, chain="ethereum", transaction_json="{'not': 'json'}")
    assert _code(_error(admin, admin.keys.SignTransaction, again)) == \
        (grpc.StatusCode.INVALID_ARGUMENT, "validation_error")
    wrong_chain = pb.TransactionRequest(key_id=eth_key.key_id, chain="ethereum", transaction_json=json.dumps(
        {**tx, "chainId": 0}))
    assert _code(_error(admin, admin.keys.SignTransaction, wrong_chain)) == \
        (grpc.StatusCode.INVALID_ARGUMENT, "invalid_chain_id")


def _wait_over_grpc(client: Client, session_id: str, timeout: float = 180) -> pb.Session:
    deadline = time.monotonic() + timeout
    while True:
        session = client(client.sessions.GetSession, pb.GetSessionRequest(session_id=session_id))
        if session.status in ("completed", "failed") or time.monotonic() > deadline:
            return session
        time.sleep(0.3)


def test_backup_started_and_listed_over_grpc(stack: Stack, admin: Client, viewer_token: str) -> None:
    started = admin(admin.backups.RunBackup, pb.RunBackupRequest())
    assert started.status == "pending" and started.backup_id and started.session_id
    listed = admin(admin.backups.ListBackups, pb.ListBackupsRequest(limit=5))
    assert started.backup_id in {b.backup_id for b in listed.backups} and listed.total >= 1
    session = _wait_over_grpc(admin, started.session_id)
    assert (session.status, session.operation) == ("completed", "backup"), session.error
    viewer = Client(stack.grpc_target, viewer_token)  # operators and viewers read backups
    try:
        ours = viewer(viewer.backups.GetBackup, pb.GetBackupRequest(backup_id=started.backup_id))
        completed = viewer(viewer.backups.ListBackups, pb.ListBackupsRequest(status="completed", limit=500))
    finally:
        viewer.close()
    with stack.client() as client:
        rest = client.get(f"/v1/backups/{started.backup_id}").json()
        rest_list = client.get("/v1/backups", params={"status": "completed", "limit": 500}).json()
    assert ours == json_format.ParseDict(rest, pb.Backup())
    assert ours.status == "completed" and ours.manifest.fields["backup_id"].string_value == started.backup_id
    assert completed == json_format.ParseDict(rest_list, pb.BackupList())
    assert _code(_error(admin, admin.backups.ListBackups, pb.ListBackupsRequest(limit=501))) == \
        (grpc.StatusCode.INVALID_ARGUMENT, "validation_error")


def test_nonce_epoch_reset_over_grpc(stack: Stack, admin: Client) -> None:
    """On a node registered for this test only (a running participant would void its nonces at a restart)."""
    node_id = f"grpc-{uuid.uuid4().hex[:8]}"
    identity = SigningKey.generate()
    fields = {"node_id": node_id, "endpoint": "", "signing_public_key": identity.verify_key.encode().hex(),
              "encryption_public_key": "11" * 32, "capabilities": {"protocols": ["frost"]}, "version": "test",
              "timestamp": time.time()}
    registration = {**fields, "signature": identity.sign(registration_message(fields)).signature.hex()}
    with stack.client() as client:
        assert client.post("/v1/nodes/register", json=registration).status_code == 200
        try:
            reset = admin(admin.nodes.ResetNonceEpoch, pb.NodeRequest(node_id=node_id))
            assert reset.node_id == node_id and reset.counter == 1 and len(reset.token) == 32
            rest = client.get(f"/v1/nodes/{node_id}/nonce-epoch").json()  # the node's own read (admin may)
            assert json_format.ParseDict(rest, pb.NonceEpoch()) == reset
            again = client.post(f"/v1/nodes/{node_id}/nonce-epoch").json()
            assert again["counter"] == 2 and again["token"] != reset.token
            audit = client.get("/v1/audit-logs", params={"resource_id": node_id,
                                                         "action": "node.reset_nonce_epoch"}).json()
            assert audit["total"] == 2
        finally:
            admin(admin.nodes.RemoveNode, pb.NodeRequest(node_id=node_id))
