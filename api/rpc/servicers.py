"""The gRPC services: each method authenticates (api/rpc/calls.py), translates the request into the REST body
schema, calls the operation the REST route calls (api/operations), and translates the answer back."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from api.key_lifecycle import KeyStateChange
from api.operations import Caller
from api.operations import backups as backups_ops
from api.operations import keys as keys_ops
from api.operations import lifecycle as lifecycle_ops
from api.operations import nodes as nodes_ops
from api.operations import sessions as sessions_ops
from api.operations import wallet as wallet_ops
from api.recover import RecoverCreate
from api.reshare import RefreshCreate, ReshareCreate
from api.rpc import convert
from api.rpc.calls import handle
from api.rpc.v1 import signer_pb2 as pb
from api.rpc.v1 import signer_pb2_grpc as rpc
from api.schemas import KeyCreate, SignCreate
from api.state import AppState
from api.transactions import TransactionCreate

Context: TypeAlias = grpc.aio.ServicerContext
OPERATOR = ("operator",)
ADMIN = ("admin",)
READERS = ("operator", "viewer")
ANY_ROLE: tuple[str, ...] = ()


class _Service:
    def __init__(self, state: AppState) -> None:
        self.state = state

    async def _call(self, context: Context, roles: tuple[str, ...], operation: Any) -> Any:
        return await handle(self.state, context, roles, operation)


class KeysService(_Service, rpc.KeysServicer):
    async def CreateKey(self, request: pb.CreateKeyRequest, context: Context) -> pb.KeygenSession:
        async def run(caller: Caller) -> pb.KeygenSession:
            key, wait, timeout = convert.start_options(request)
            outcome = await keys_ops.create_key(caller, convert.body(request, KeyCreate), idempotency_key=key,
                                                wait=wait, timeout=timeout)
            answer = outcome.body.model_dump(mode="json")
            created = answer.pop("key", None)
            return pb.KeygenSession(session=convert.message(answer, pb.Session),
                                    key=convert.message(created, pb.Key) if created else None)

        return await self._call(context, OPERATOR, run)

    async def ListKeys(self, request: pb.ListKeysRequest, context: Context) -> pb.KeyList:
        async def run(caller: Caller) -> pb.KeyList:
            limit, offset = convert.page(request, keys_ops.LIST_LIMIT_MAX)
            answer = await keys_ops.list_keys(caller.db, status=convert.optional(request, "status"),
                                              chain_type=convert.optional(request, "chain_type"), limit=limit,
                                              offset=offset)
            return convert.message(answer, pb.KeyList)

        return await self._call(context, ANY_ROLE, run)

    async def GetKey(self, request: pb.GetKeyRequest, context: Context) -> pb.Key:
        async def run(caller: Caller) -> pb.Key:
            return convert.message(await keys_ops.get_key(caller.db, request.key_id), pb.Key)

        return await self._call(context, ANY_ROLE, run)

    async def Sign(self, request: pb.SignRequest, context: Context) -> pb.Session:
        async def run(caller: Caller) -> pb.Session:
            key, wait, timeout = convert.start_options(request)
            outcome = await keys_ops.sign(caller, request.key_id, convert.body(request, SignCreate),
                                          idempotency_key=key, wait=wait, timeout=timeout)
            return convert.message(outcome.body, pb.Session)

        return await self._call(context, OPERATOR, run)

    async def ListEpochs(self, request: pb.GetKeyRequest, context: Context) -> pb.EpochList:
        async def run(caller: Caller) -> pb.EpochList:
            return convert.message(await lifecycle_ops.key_epochs(caller.db, request.key_id), pb.EpochList)

        return await self._call(context, ANY_ROLE, run)

    async def _state_change(self, request: pb.KeyStateChangeRequest, context: Context, *, enabled: bool,
                            archive: bool = False) -> pb.Session:
        async def run(caller: Caller) -> pb.Session:
            key, _, _ = convert.start_options(request)
            view = await lifecycle_ops.change_key_state(caller, request.key_id, enabled=enabled,
                                                        body=convert.body(request, KeyStateChange),
                                                        idempotency_key=key, archive=archive)
            return convert.message(view, pb.Session)

        return await self._call(context, OPERATOR, run)

    async def DisableKey(self, request: pb.KeyStateChangeRequest, context: Context) -> pb.Session:
        return await self._state_change(request, context, enabled=False)

    async def EnableKey(self, request: pb.KeyStateChangeRequest, context: Context) -> pb.Session:
        return await self._state_change(request, context, enabled=True)

    async def ArchiveKey(self, request: pb.KeyStateChangeRequest, context: Context) -> pb.Session:
        return await self._state_change(request, context, enabled=False, archive=True)

    async def _shares(self, request: Any, context: Context,
                      model: type[ReshareCreate] | type[RefreshCreate] | type[RecoverCreate], *,
                      roles: tuple[str, ...] = OPERATOR, json_text: tuple[str, ...] = ()) -> pb.Session:
        async def run(caller: Caller) -> pb.Session:
            key, wait, timeout = convert.start_options(request)
            body = convert.body(request, model, json_text=json_text)
            outcome = await lifecycle_ops.change_shares(caller, request.key_id, body, idempotency_key=key, wait=wait,
                                                        timeout=timeout)
            return convert.message(outcome.body, pb.Session)

        return await self._call(context, roles, run)

    async def ReshareKey(self, request: pb.ReshareRequest, context: Context) -> pb.Session:
        return await self._shares(request, context, ReshareCreate)

    async def RefreshKey(self, request: pb.RefreshRequest, context: Context) -> pb.Session:
        return await self._shares(request, context, RefreshCreate)

    async def RecoverKey(self, request: pb.RecoverRequest, context: Context) -> pb.Session:
        return await self._shares(request, context, RecoverCreate, roles=ADMIN, json_text=("package_json",))

    async def SetRefreshSchedule(self, request: pb.RefreshScheduleRequest,
                                 context: Context) -> pb.RefreshSchedule:
        async def run(caller: Caller) -> pb.RefreshSchedule:
            body = lifecycle_ops.RefreshSchedule.model_validate({"every": convert.optional(request, "every")})
            answer = await lifecycle_ops.set_refresh_schedule(caller, request.key_id, body)
            return convert.message(answer, pb.RefreshSchedule)

        return await self._call(context, OPERATOR, run)

    async def GetXpub(self, request: pb.GetKeyRequest, context: Context) -> pb.Xpub:
        async def run(caller: Caller) -> pb.Xpub:
            return convert.message(await wallet_ops.get_xpub(caller.db, request.key_id), pb.Xpub)

        return await self._call(context, ANY_ROLE, run)

    async def GetAddress(self, request: pb.AddressRequest, context: Context) -> pb.Address:
        async def run(caller: Caller) -> pb.Address:
            path = convert.required(request, "path", max_length=wallet_ops.PATH_MAX_LENGTH)
            return convert.message(await wallet_ops.get_address(caller.db, request.key_id, path), pb.Address)

        return await self._call(context, ANY_ROLE, run)

    async def SignTransaction(self, request: pb.TransactionRequest, context: Context) -> pb.Session:
        async def run(caller: Caller) -> pb.Session:
            key, wait, timeout = convert.start_options(request)
            body = convert.body(request, TransactionCreate, json_text=("transaction_json",))
            outcome = await keys_ops.sign_transaction(caller, request.key_id, body, idempotency_key=key, wait=wait,
                                                      timeout=timeout)
            return convert.message(outcome.body, pb.Session)

        return await self._call(context, OPERATOR, run)


class SessionsService(_Service, rpc.SessionsServicer):
    async def GetSession(self, request: pb.GetSessionRequest, context: Context) -> pb.Session:
        async def run(caller: Caller) -> pb.Session:
            session = await sessions_ops.get_session(caller.db, request.session_id, caller.state.temporal)
            return convert.message(session, pb.Session)

        return await self._call(context, ANY_ROLE, run)

    async def ListSessions(self, request: pb.ListSessionsRequest, context: Context) -> pb.SessionList:
        async def run(caller: Caller) -> pb.SessionList:
            limit, offset = convert.page(request, sessions_ops.SESSIONS_LIMIT_MAX)
            answer = await sessions_ops.list_sessions(caller.db, key_id=convert.optional(request, "key_id"),
                                                      status=convert.optional(request, "status"), limit=limit,
                                                      offset=offset)
            return convert.message(answer, pb.SessionList)

        return await self._call(context, ANY_ROLE, run)

    async def GetIntent(self, request: pb.GetSessionRequest, context: Context) -> pb.Intent:
        async def run(caller: Caller) -> pb.Intent:
            return convert.message(await sessions_ops.get_intent(caller, request.session_id), pb.Intent)

        return await self._call(context, ANY_ROLE, run)

    async def SubmitApproval(self, request: pb.ApprovalRequest,
                             context: Context) -> pb.ApprovalAccepted:
        async def run(caller: Caller) -> pb.ApprovalAccepted:
            answer = await sessions_ops.post_approval(caller, request.session_id,
                                                      convert.body(request, sessions_ops.ApprovalCreate))
            return convert.message(answer, pb.ApprovalAccepted)

        return await self._call(context, OPERATOR, run)

    async def ListAuditLogs(self, request: pb.ListAuditLogsRequest,
                            context: Context) -> pb.AuditLogList:
        async def run(caller: Caller) -> pb.AuditLogList:
            limit, offset = convert.page(request, sessions_ops.AUDIT_LIMIT_MAX)
            answer = await sessions_ops.audit_logs(
                caller.db, action=convert.optional(request, "action"),
                resource_id=convert.optional(request, "resource_id"),
                session_id=convert.optional(request, "session_id"), limit=limit, offset=offset)
            return convert.message(answer, pb.AuditLogList)

        return await self._call(context, READERS, run)


class NodesService(_Service, rpc.NodesServicer):
    async def ListNodes(self, request: pb.ListNodesRequest, context: Context) -> pb.NodeList:
        async def run(caller: Caller) -> pb.NodeList:
            return convert.message(await nodes_ops.list_nodes(caller), pb.NodeList)

        return await self._call(context, ANY_ROLE, run)

    async def GetNode(self, request: pb.NodeRequest, context: Context) -> pb.Node:
        async def run(caller: Caller) -> pb.Node:
            return convert.message(await nodes_ops.get_node(caller, request.node_id), pb.Node)

        return await self._call(context, ANY_ROLE, run)

    async def ApproveNode(self, request: pb.NodeRequest, context: Context) -> pb.Node:
        async def run(caller: Caller) -> pb.Node:
            return convert.message(await nodes_ops.approve_node(caller, request.node_id), pb.Node)

        return await self._call(context, ADMIN, run)

    async def RemoveNode(self, request: pb.NodeRequest, context: Context) -> pb.RemoveNodeResponse:
        async def run(caller: Caller) -> pb.RemoveNodeResponse:
            await nodes_ops.remove_node(caller, request.node_id)
            return pb.RemoveNodeResponse()

        return await self._call(context, ADMIN, run)

    async def ResetNonceEpoch(self, request: pb.NodeRequest, context: Context) -> pb.NonceEpoch:
        async def run(caller: Caller) -> pb.NonceEpoch:
            return convert.message(await nodes_ops.reset_nonce_epoch(caller, request.node_id), pb.NonceEpoch)

        return await self._call(context, ADMIN, run)


class BackupsService(_Service, rpc.BackupsServicer):
    async def ListBackups(self, request: pb.ListBackupsRequest, context: Context) -> pb.BackupList:
        async def run(caller: Caller) -> pb.BackupList:
            limit, offset = convert.page(request, backups_ops.LIST_LIMIT_MAX)
            answer = await backups_ops.list_backups(caller.db, status=convert.optional(request, "status"),
                                                    limit=limit, offset=offset)
            return convert.message(answer, pb.BackupList)

        return await self._call(context, READERS, run)

    async def GetBackup(self, request: pb.GetBackupRequest, context: Context) -> pb.Backup:
        async def run(caller: Caller) -> pb.Backup:
            return convert.message(await backups_ops.get_backup(caller.db, request.backup_id), pb.Backup)

        return await self._call(context, READERS, run)

    async def RunBackup(self, request: pb.RunBackupRequest, context: Context) -> pb.BackupStarted:
        async def run(caller: Caller) -> pb.BackupStarted:
            return convert.message(await backups_ops.run_backup(caller), pb.BackupStarted)

        return await self._call(context, OPERATOR, run)


class TokensService(_Service, rpc.TokensServicer):
    async def ListTokens(self, request: pb.ListTokensRequest, context: Context) -> pb.TokenList:
        async def run(caller: Caller) -> pb.TokenList:
            return convert.message(await nodes_ops.list_tokens(caller.db), pb.TokenList)

        return await self._call(context, ADMIN, run)

    async def RevokeToken(self, request: pb.RevokeTokenRequest, context: Context) -> pb.Token:
        async def run(caller: Caller) -> pb.Token:
            return convert.message(await nodes_ops.revoke(caller, request.token_id), pb.Token)

        return await self._call(context, ADMIN, run)
