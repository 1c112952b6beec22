"""Process launchers: ``serve`` (front end, plus embedded workers on the
in-memory bus) and ``worker`` (one actor in its own process on NATS).

The only module besides the CLI that imports both the front end and the
workers: it decides what runs where.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from collections.abc import Awaitable, Callable

import anyio
import structlog

from nbamcp.actor import Actor, WorkerContext, open_context
from nbamcp.bus import Bus, connect_bus
from nbamcp.bus.connect import redact_url
from nbamcp.config import Config
from nbamcp.errors import BusUnreachable
from nbamcp.frontend.app import build_server
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.readiness import WorkerBoard
from nbamcp.frontend.stdio import run_stdio

log = structlog.get_logger(__name__)


async def open_bus(config: Config, *, name: str) -> Bus:
    """Connect, retrying refused connections for ``bus.connect_timeout_s``.

    Under the supervisor, nats-server and the workers start together: a worker that
    comes up a few milliseconds early should not need a restart to find it.
    """
    token = config.nats_token()
    deadline = time.monotonic() + config.bus.connect_timeout_s
    delay = 0.05
    while True:
        try:
            return await connect_bus(
                config.bus.url,
                name=name,
                token=token.reveal() if token else None,
                connect_timeout=config.bus.connect_timeout_s,
            )
        except BusUnreachable:
            if time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


def build_worker(ctx: WorkerContext, name: str) -> Actor:
    # Imported here: the front end alone (serve on NATS) never loads a worker module.
    from workers import build_worker as build

    return build(ctx, name)


def worker_class(name: str) -> type[Actor]:
    from workers import worker_class as find

    return find(name)


def starts_after(name: str) -> tuple[str, ...]:
    """The workers ``name`` waits for in one process: those it asks at start, then (for one no
    prediction needs) the serving workers."""
    from workers import STARTS_AFTER, YIELDS_TO

    return STARTS_AFTER.get(name, ()) + YIELDS_TO.get(name, ())


async def stop_actors(actors: list[Actor], deadline_s: float) -> None:
    # Reverse order: consumers stop before the services they call.
    for actor in reversed(actors):
        await actor.stop(deadline_s)


async def _until_signal(on_signal: Callable[[], None]) -> None:
    # Every signal is passed on: uvicorn's stop is graceful the first time, immediate the second.
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("process.signal", signal=signal.Signals(signum).name)
            on_signal()


async def _drain_then_stop(gw: Gateway, drain_s: float, stop: Callable[[], None]) -> None:
    """First signal: let the tool calls in flight finish (new ones are refused), then stop the
    transport; the bus closes after it. A second signal stops at once."""
    stopping = False
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as tg:
            async for signum in signals:
                log.info("process.signal", signal=signal.Signals(signum).name, inflight=gw.inflight.count)
                if stopping:
                    stop()
                    continue
                stopping = True

                async def drain_and_stop() -> None:
                    await gw.inflight.drain(drain_s)
                    stop()

                tg.start_soon(drain_and_stop)


async def serve(config: Config, *, transport: str, host: str, port: int, no_auth: bool = False) -> None:
    """Run the MCP front end; on the in-memory bus, every worker too."""
    from nbamcp.frontend.service import FrontEndService

    bus = await open_bus(config, name="nbamcp-frontend")
    embedded = bus.kind == "memory"
    names = list(config.workers.embedded)
    board = WorkerBoard(names, bus=bus.kind) if embedded else None
    gw = Gateway(
        bus,
        timeout_s=config.bus.request_timeout_s,
        expected_workers=names,
        board=board,
        startup_timeout_s=config.server.startup_timeout_s,
    )
    actors: list[Actor] = []

    async def start_embedded(ctx: WorkerContext) -> None:
        # Started beside the transport so the MCP handshake does not wait on worker imports,
        # and side by side: a call waits in the gateway only for the worker it needs.
        assert board is not None
        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(start_one, ctx, board, name)

    imports = asyncio.Lock()

    async def start_one(ctx: WorkerContext, board: WorkerBoard, name: str) -> None:
        t0 = time.monotonic()
        after = [n for n in starts_after(name) if n in board]
        if after:
            board.starting(name, f"waiting for {', '.join(after)}")
        for other in after:
            await board.settled(other)
        t1 = time.monotonic()
        try:
            board.starting(name, "importing")
            # Imports off the event loop (onnxruntime takes seconds), one at a time: health and
            # the workers already up keep answering meanwhile.
            async with imports:
                cls = await asyncio.to_thread(worker_class, name)
            actor = cls(ctx)
            t2 = time.monotonic()
            board.starting(name, "starting", progress=actor.starting_note)
            # A stop during start-up waits for the actor being started: cancelled
            # half way, it would leave what on_start opened (threads, files) behind.
            with anyio.CancelScope(shield=True):
                await actor.start()
            # Where each worker's start went (bench/startup.py and docs/benchmarks.md read these).
            log.info(
                "serve.worker_ready", worker=name, waited_s=round(t1 - t0, 3), import_s=round(t2 - t1, 3),
                start_s=round(time.monotonic() - t2, 3),
            )  # fmt: skip
        except Exception as exc:
            # Start boundary: one worker that cannot start leaves the others serving; its
            # callers and health say why (the log has the traceback).
            log.exception("serve.worker_failed", worker=name)
            board.failed(name, str(exc) or type(exc).__name__)
            return
        actors.append(actor)
        board.ready(name)

    stack = contextlib.AsyncExitStack()
    try:
        service = FrontEndService(config, gw, transport=transport, host=host, port=port, no_auth=no_auth)
        # The front end alone (NATS) needs no durable stream: the workers elsewhere own it.
        ctx = await stack.enter_async_context(open_context(bus, config)) if embedded else None
        async with service.running():
            server = build_server(
                gw, config, home=config.home, extra_tools=service.tools(), **service.mcp_options()
            )
            service.attach(server)
            log.info("serve.start", transport=transport, bus=redact_url(config.bus.url), workers=names)
            async with anyio.create_task_group() as tg:
                drain_s = config.server.drain_s
                if transport == "stdio":
                    tg.start_soon(_drain_then_stop, gw, drain_s, tg.cancel_scope.cancel)
                    # The SDK's transport minus its thread hops (nbamcp/frontend/stdio.py).
                    run: Callable[[], Awaitable[None]] = functools.partial(run_stdio, server)
                else:
                    front = service.http(server, workers_started=lambda: gw.ready)
                    # uvicorn stops gracefully (and quietly) when asked, instead of being cancelled.
                    tg.start_soon(_drain_then_stop, gw, drain_s, front.stop)
                    run = front.serve
                if ctx is not None:
                    tg.start_soon(start_embedded, ctx)
                await run()
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await stop_actors(actors, config.workers.stop_deadline_s)
            await stack.aclose()
            await bus.close()
            log.info("serve.stopped")


async def run_worker(config: Config, name: str, *, metrics_port: int = 0) -> None:
    """Run one worker until SIGTERM/SIGINT, then stop it gracefully."""
    if metrics_port:
        from nbamcp.ops.metrics import serve_worker_metrics

        serve_worker_metrics(config.metrics.host, metrics_port)
        log.info("metrics.serving", host=config.metrics.host, port=metrics_port, worker=name)
    bus = await open_bus(config, name=f"nbamcp-{name}")
    stack = contextlib.AsyncExitStack()
    actor: Actor | None = None
    try:
        ctx = await stack.enter_async_context(open_context(bus, config))
        actor = build_worker(ctx, name)
        await actor.start()
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_until_signal, stop.set)
            await stop.wait()
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if actor is not None:
                await actor.stop(config.workers.stop_deadline_s)
            await stack.aclose()
            await bus.close()
