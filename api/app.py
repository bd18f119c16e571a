"""The FastAPI application: routers, error handlers, lifespan-managed clients."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from api.errors import install_error_handlers
from api.metrics import HTTP_REQUESTS
from api.refresh_schedule import serve_api_activities
from api.routes import (
    approvals,
    backups,
    health,
    keys,
    lifecycle,
    node_epochs,
    nodes,
    reshare,
    sessions,
    tokens,
    transactions,
    wallet,
)
from api.routes import codec as codec_routes
from api.state import AppState
from mpc.codec import EncryptionCodec
from mpc.settings import Settings

API_VERSION = "0.1.0"
ROUTERS = (health.router, nodes.router, keys.router, lifecycle.router, reshare.router, sessions.router,
           approvals.router, tokens.router, codec_routes.router, backups.router,
           node_epochs.router, wallet.router, transactions.router)


def create_app(settings: Settings, codec: EncryptionCodec, *, serve_grpc: bool = False) -> FastAPI:
    """`serve_grpc`: also serve the gRPC API on GRPC_PORT (unless 0) for the app's lifetime, on the same state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.mpc = AppState.build(settings, codec)
        await app.state.mpc.session_ends.start()  # without it, waits answer on the workflow's end
        stop = asyncio.Event()
        # The API's own activities (a key's scheduled refresh needs the API's intent key).
        worker = asyncio.create_task(serve_api_activities(app.state.mpc, stop))
        grpc_server = None
        if serve_grpc and settings.grpc_port:
            from api.rpc.server import GrpcServer

            grpc_server = GrpcServer(app.state.mpc)
            await grpc_server.start()
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop()
            stop.set()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker
            await app.state.mpc.close()

    app = FastAPI(
        title="MPC signing service",
        version=API_VERSION,
        description="Threshold keys and signatures (FROST, GG18/GG20) on durable Temporal workflows.",
        lifespan=lifespan,
    )
    install_error_handlers(app, ROUTERS)
    # The Temporal Web UI calls the codec endpoints from the browser: allow its origins, nothing else.
    app.add_middleware(CORSMiddleware, allow_origins=settings.codec_cors_origins, allow_credentials=True,
                       allow_methods=["POST", "OPTIONS"], allow_headers=["Authorization", "Content-Type",
                                                                         "X-Namespace"])

    @app.middleware("http")
    async def count_requests(request: Request, call_next) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        HTTP_REQUESTS.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).inc()
        response.headers["X-Response-Time-Ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return response

    for router in ROUTERS:
        app.include_router(router)
    return app
