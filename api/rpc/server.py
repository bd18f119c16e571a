"""The gRPC server beside the HTTP API, in the API process and its event loop (so both front ends share one
`AppState`: database pool, Redis, Temporal client, intent signer): the five services of signer.proto, the
standard health service (grpc.health.v1) and server reflection (grpcurl, grpcui, Postman find the methods)."""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from api.rpc.servicers import BackupsService, KeysService, NodesService, SessionsService, TokensService
from api.rpc.v1 import signer_pb2 as pb
from api.rpc.v1 import signer_pb2_grpc as rpc
from api.state import AppState
from api.tls import grpc_credentials

log = logging.getLogger("mpc.api.rpc")

SERVICE_NAMES = tuple(service.full_name for service in pb.DESCRIPTOR.services_by_name.values())
"""mpc.signer.v1.Keys, .Sessions, .Backups, .Nodes, .Tokens"""


class GrpcServer:
    """Start with `await start()`, stop with `await stop()`; health answers SERVING in between."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.server = grpc.aio.server()
        self.health = health_aio.HealthServicer()
        rpc.add_KeysServicer_to_server(KeysService(state), self.server)
        rpc.add_SessionsServicer_to_server(SessionsService(state), self.server)
        rpc.add_BackupsServicer_to_server(BackupsService(state), self.server)
        rpc.add_NodesServicer_to_server(NodesService(state), self.server)
        rpc.add_TokensServicer_to_server(TokensService(state), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.server)
        settings = state.settings
        self.address = f"{settings.listen_address}:{settings.grpc_port}"
        credentials = grpc_credentials(settings)
        try:
            bound = (self.server.add_secure_port(self.address, credentials) if credentials
                     else self.server.add_insecure_port(self.address))
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise OSError(f"GRPC_PORT: cannot listen on {self.address} (in use?)")

    async def start(self) -> None:
        await self.server.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC API listening", extra={"address": self.address})

    async def stop(self, grace: float = 2.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
