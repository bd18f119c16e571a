"""Server-side commands: run the API, a worker, migrations, the dev stack; create tokens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mpc.log import configure_logging
from mpc.settings import Settings, load_settings, parse_duration

if TYPE_CHECKING:
    import uvicorn


def _settings(node_type: str | None = None) -> Settings:
    overrides = {"node_type": node_type} if node_type else {}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, service=node_type or settings.node_type, log_file=settings.log_file,
                      max_bytes=settings.log_max_bytes, backups=settings.log_backups)
    return settings


def _uvicorn_server(settings: Settings) -> uvicorn.Server:
    import uvicorn

    from api.app import create_app
    from api.tls import uvicorn_tls

    app = create_app(settings, settings.payload_codec(), serve_grpc=True)
    config = uvicorn.Config(app, host=settings.listen_address, port=settings.http_port, log_config=None,
                            access_log=False, **uvicorn_tls(settings))
    return uvicorn.Server(config)


class _EmbeddedServer:
    """Uvicorn inside `mpc serve`: signals are handled by the caller, which stops API and worker in order."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    async def serve(self) -> None:
        await self.server.serve()

    def stop(self) -> None:
        self.server.should_exit = True


def cmd_api(_: argparse.Namespace) -> int:
    _uvicorn_server(_settings()).run()
    return 0


def cmd_serve(_: argparse.Namespace) -> int:
    """The container entry point: the role comes from NODE_TYPE, as the deployment guide's files set it."""
    settings = _settings()
    if settings.node_type == "participant":
        return cmd_worker(argparse.Namespace(role="participant"))
    if settings.node_type == "api":
        return cmd_api(argparse.Namespace())

    from workers.coordinator import run_coordinator

    async def both(stop: asyncio.Event) -> None:
        server = _EmbeddedServer(_uvicorn_server(settings))
        # One port for both: the worker's metrics join the API's /metrics; else it serves METRICS_PORT.
        from api.metrics import REGISTRY

        shared = REGISTRY if settings.metrics_port == settings.http_port else None
        worker = asyncio.create_task(run_coordinator(settings, settings.payload_codec(), stop, metrics_into=shared))
        api = asyncio.create_task(server.serve())
        await stop.wait()
        server.stop()
        await asyncio.gather(api, worker)

    asyncio.run(_run_until_signalled(both))
    return 0


async def _run_until_signalled(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)


def cmd_worker(args: argparse.Namespace) -> int:
    if args.role == "coordinator":
        from workers.coordinator import run_coordinator

        settings = _settings("coordinator")
        codec = settings.payload_codec()
        asyncio.run(_run_until_signalled(lambda stop: run_coordinator(settings, codec, stop)))
    else:
        from workers.participant import run_participant

        settings = _settings("participant")
        codec = settings.payload_codec()
        asyncio.run(_run_until_signalled(lambda stop: run_participant(settings, codec, stop)))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from mpc.db import migrate

    settings = load_settings()
    if args.direction == "up":
        migrate.upgrade(settings.database_url, args.revision or "head")
    elif args.direction == "down":
        migrate.downgrade(settings.database_url, args.revision or "base")
    print(f"database at revision {migrate.current(settings.database_url) or '(none)'}")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from api.auth import create_token
    from mpc.db import create_engine, session_factory

    settings = load_settings()
    ttl = parse_duration(args.ttl) if args.ttl else settings.token_ttl

    async def _create() -> str:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                token, _ = await create_token(session, name=args.name, role=args.role, ttl_seconds=ttl,
                                              node_id=args.node_id)
                await session.commit()
                return token
        finally:
            await engine.dispose()

    try:
        print(asyncio.run(_create()))
    except ValueError as exc:
        print(f"mpc tokens create: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from api.auth import revoke_token
    from mpc.db import create_engine, session_factory

    settings = load_settings()

    async def _revoke() -> bool:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                if await revoke_token(session, args.token_id, actor="cli") is None:
                    return False
                await session.commit()
                return True
        finally:
            await engine.dispose()

    if not asyncio.run(_revoke()):
        print(f"mpc tokens revoke: no token {args.token_id}", file=sys.stderr)
        return 2
    print(f"revoked {args.token_id}")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from mpc.devstack.stack import DevStack, DevStackConfig

    config = DevStackConfig.from_args(args)
    stack = DevStack(config)
    try:
        stack.run()
    except Exception as exc:  # every start-up failure is reported as one clear line
        print(f"mpc dev: {exc}", file=sys.stderr)
        return 1
    return 0
