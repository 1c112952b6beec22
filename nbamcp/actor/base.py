"""The worker actor base: one lifecycle for every worker.

An actor subscribes to its routes, decodes each message with a decoder built
once, hands it to a handler, and replies (or publishes events). It owns its
state; nothing else touches it. The lifecycle, after arq's worker:

- ``start``: ``on_start`` acquires what the actor owns, registering each resource
  with ``enter`` / ``close_with``; then the routes are subscribed, the durable
  consumers started, health answered, ``on_subscribed`` catches up on what was
  announced meanwhile, and ``ready`` is set. A start that fails
  halfway closes whatever was already acquired, then raises.
- while running: at most ``workers.concurrency`` messages (or durable batches) in
  flight; more wait in the bus (back-pressure instead of unbounded tasks).
  Background work is started with ``spawn`` and stopped with the actor.
- ``stop``: ONE deadline (``workers.stop_deadline_s``) for everything: stop taking
  work (unsubscribe, stop fetching), let in-flight messages and the batch in hand
  finish, run ``on_stop`` (flush, or wait for work that must end gracefully;
  ``remaining_s()`` says how long is left), cancel the background tasks, then
  close the resources in reverse order.

``_dispatch`` is the one boundary where an unexpected exception becomes an
``ErrorReply`` plus a log line carrying the request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import msgspec
import structlog
from opentelemetry.trace import SpanKind

from nbamcp import __version__
from nbamcp.actor.batching import BatchLoop
from nbamcp.actor.context import WorkerContext
from nbamcp.actor.routes import Context, Delivery, DurableRoute, Route
from nbamcp.bus.base import TENANT_HEADER, Msg, Subscription
from nbamcp.bus.durable import DurableMsg
from nbamcp.endpoints import BACKUP, HEALTH
from nbamcp.errors import ErrorCode, InvalidInput, NbaError, PayloadTooLarge
from nbamcp.log import bind_request, request_id_from
from nbamcp.messages import (
    BackupPart,
    BackupRequest,
    ErrorReply,
    HealthPing,
    HealthReport,
    decoder_for,
    encode,
)
from nbamcp.messages.validation import explain, inline_refs
from nbamcp.ops import metrics
from nbamcp.ops.tracing import context_headers, extract, span

log = structlog.get_logger(__name__)
T = TypeVar("T")

BACKUP_NAME = re.compile(r"^nbamcp-\d{8}T\d{6}\.\d{6}Z$")

# Cancelled background tasks and durable loops get this long to unwind after the deadline.
_CANCEL_GRACE_S = 1.0


@functools.cache
def _schema(types: Any) -> dict[str, Any]:
    return inline_refs(msgspec.json.schema(types))


def _refusal(msg: Msg, types: Any, exc: msgspec.MsgspecError) -> ErrorReply:
    """The reply to a message that does not decode: for one that breaks the request
    Struct's bounds, the same words an MCP client gets for the same argument."""
    if not isinstance(exc, msgspec.ValidationError):
        return ErrorReply(code=ErrorCode.INVALID_INPUT, message=f"malformed message on {msg.subject}: {exc}")
    try:
        value = msgspec.msgpack.decode(msg.data)
    except msgspec.DecodeError:
        value = None
    param, text = explain(exc, _schema(types), value)
    message = f"{text}; in a message on {msg.subject}"
    return ErrorReply(code=ErrorCode.INVALID_INPUT, message=message, details={"param": param})


class Actor:
    """Base class of every worker. Subclasses set ``name`` and override the hooks below."""

    name: ClassVar[str] = "actor"

    def __init__(self, ctx: WorkerContext) -> None:
        settings = ctx.config.workers
        if settings.concurrency < 1:
            raise ValueError("workers.concurrency must be >= 1")
        self.ctx = ctx
        self.bus = ctx.bus
        self.config = ctx.config
        self.instance = f"{self.name}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.ready = asyncio.Event()
        self.status = "starting"
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._stop_deadline_s = settings.stop_deadline_s
        self._deadline: float | None = None
        self._subs: list[Subscription] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resources = AsyncExitStack()
        self._unhook: Callable[[], None] = lambda: None
        # The durable consumers' loops, by consumer name (tests await their progress).
        self.consumers: dict[str, BatchLoop] = {}
        self._started_at = time.monotonic()
        self.handled = 0
        self.failed = 0
        # Request/reply only (what a caller waits for): the operations watch reads them.
        self.requests = 0
        self.request_errors = 0
        self.busy_s = 0.0
        # Set (and replaced) whenever the worker's own state moves (``moved``): the replay awaits
        # it instead of polling the worker's status.
        self.progress = asyncio.Event()

    def moved(self) -> None:
        """Wake whoever awaits ``progress``; the next wait is on a fresh event."""
        self.progress.set()
        self.progress = asyncio.Event()

    # ---- to override ---------------------------------------------------
    def routes(self) -> list[Route]:
        return []

    def durable_routes(self) -> list[DurableRoute]:
        return []

    async def on_start(self) -> None:
        """Acquire what the actor owns (register it with ``enter`` / ``close_with``)."""

    async def on_stop(self) -> None:
        """Flush what must not be lost, within ``remaining_s()``; resources close after it."""

    def health_detail(self) -> dict[str, str]:
        return {}

    def starting_note(self) -> str:
        """What ``on_start`` is doing now, for health while the worker starts ("" when nothing to say)."""
        return ""

    def problems(self) -> list[str]:
        """Why this worker cannot do its whole job right now (health says ``degraded`` and why)."""
        return []

    async def on_subscribed(self) -> None:
        """After the routes are subscribed, before ``ready``: catch up on what was announced while
        ``on_start`` ran (an announcement before the subscription reached nobody here)."""

    async def on_recovered(self) -> None:
        """After NATS came back and the process's streams and buckets exist again: put back what
        this worker owns on the server (the stats worker its datasets, the trainer its artifacts)."""

    # ---- resources and background work ---------------------------------------
    async def enter(self, cm: AbstractAsyncContextManager[T]) -> T:
        """Enter ``cm`` now; it is exited when the actor stops (or its start fails)."""
        return await self._resources.enter_async_context(cm)

    def close_with(self, close: Callable[[], Awaitable[object]]) -> None:
        """Call ``close()`` when the actor stops (or its start fails), in reverse order."""
        self._resources.push_async_callback(close)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``coro`` in the background until it ends or the actor stops (then it is cancelled)."""
        task = asyncio.create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Task boundary: a background task's bug is logged, the worker goes on.
            exc = task.exception()
            log.error("actor.task_failed", actor=self.name, task=task.get_name(), error=repr(exc))

    def remaining_s(self) -> float:
        """Seconds left of the stop deadline (the whole deadline while not stopping)."""
        if self._deadline is None:
            return self._stop_deadline_s
        return max(self._deadline - asyncio.get_running_loop().time(), 0.0)

    # ---- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.on_start()
            for route in self.routes():
                decoder = decoder_for(route.types)

                async def on_msg(msg: Msg, route: Route = route, decoder: Any = decoder) -> None:
                    await self._admit(msg, route, decoder)

                self._subs.append(await self.bus.subscribe(route.subject, on_msg, queue=route.queue))
            for durable in self.durable_routes():
                await self._start_consumer(durable)
            # Health is plain (no queue group): every instance answers for itself.
            for subject in (HEALTH.subject, HEALTH.at(self.name).subject):
                self._subs.append(await self.bus.subscribe(subject, self._on_health))
            # Backups: on NATS every instance backs up the home it owns; in process the actors share
            # one home, so one of them (a queue group) backs it up once.
            backup = Route(BACKUP, self._on_backup, queue="backup" if self.bus.kind == "memory" else None)
            backup_decoder = decoder_for(backup.types)

            async def on_backup(msg: Msg) -> None:
                await self._admit(msg, backup, backup_decoder)

            self._subs.append(await self.bus.subscribe(backup.subject, on_backup, queue=backup.queue))
            # Ready means reachable: the server has the subscriptions before anyone is told.
            await self.bus.flush()
            # Registered after on_start: the buckets and streams it opened recover first.
            self._unhook = self.bus.link.on_recovery(f"actor {self.name}", self._recovered)
            await self.on_subscribed()
        except BaseException:
            log.error("actor.start_failed", actor=self.name, instance=self.instance)
            self._deadline = asyncio.get_running_loop().time() + self._stop_deadline_s
            with contextlib.suppress(Exception):
                await self._teardown()
            self.status = "failed"
            raise
        self._started_at = time.monotonic()
        self.status = "ok"
        self.ready.set()
        log.info("actor.started", actor=self.name, instance=self.instance, bus=self.bus.kind)

    async def stop(self, deadline_s: float | None = None) -> None:
        """Stop taking work, let in-flight work finish, flush, close: within one deadline."""
        if self.status in ("stopped", "stopping", "failed"):
            return  # a failed start has torn itself down already
        self.status = "stopping"
        deadline = self._stop_deadline_s if deadline_s is None else deadline_s
        self._deadline = asyncio.get_running_loop().time() + deadline
        await self._teardown()
        self.status = "stopped"
        log.info("actor.stopped", actor=self.name, handled=self.handled, failed=self.failed)

    async def _teardown(self) -> None:
        self._unhook()
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()
        for loop in self.consumers.values():
            loop.request_stop()
        work = set(self._inflight) | {lp.task for lp in self.consumers.values() if lp.task is not None}
        if work:
            _, late = await asyncio.wait(work, timeout=self.remaining_s())
            if late:
                log.warning("actor.stop.cancelled", actor=self.name, cancelled=len(late))
                await _cancel(late)
        for loop in self.consumers.values():
            await loop.consumer.close()
        try:
            await self.on_stop()
        finally:
            # Background work that must end gracefully is awaited by on_stop; the rest stops now.
            await _cancel(set(self._tasks))
            await self._resources.aclose()

    async def _recovered(self) -> None:
        # The process's streams and buckets exist again: the consumers stop backing off, then
        # the worker puts back what it owns.
        for loop in self.consumers.values():
            loop.wake()
        await self.on_recovered()

    # ---- message handling --------------------------------------------------
    async def _admit(self, msg: Msg, route: Route, decoder: Any) -> None:
        # Waiting for a slot here, inside the subscription callback, holds the
        # rest of the subscription's messages in the bus: back-pressure.
        await self._slots.acquire()
        task = asyncio.create_task(self._handle(msg, route, decoder))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _handle(self, msg: Msg, route: Route, decoder: Any) -> None:
        try:
            await self._dispatch(msg, route, decoder)
        finally:
            self._slots.release()

    async def _dispatch(self, msg: Msg, route: Route, decoder: Any) -> None:
        request_id = request_id_from(msg.headers)
        tenant = msg.headers.get(TENANT_HEADER)
        extra = {"tenant": tenant} if tenant else {}
        started = time.perf_counter()
        with (
            bind_request(request_id, actor=self.name, subject=msg.subject, **extra),
            span(f"{self.name} {route.subject}", parent=extract(msg.headers), kind=SpanKind.CONSUMER),
        ):
            reply, outcome = await self._answer(msg, route, decoder, request_id)
            seconds = time.perf_counter() - started
            self.requests += 1
            self.request_errors += outcome != "ok"
            self.busy_s += seconds
            metrics.WORKER_MESSAGES.labels(self.name, outcome).inc()
            metrics.WORKER_LATENCY.labels(self.name).observe(seconds)
            log.debug("actor.handled", outcome=outcome, duration_ms=round(seconds * 1e3, 3))
            if reply is not None and msg.reply:
                try:
                    try:
                        await msg.respond(encode(reply), headers=context_headers(request_id))
                    except PayloadTooLarge as exc:
                        # The answer cannot travel; the requester gets why at once, not a timeout.
                        log.warning("actor.reply_too_large", error=exc.message)
                        too_large = ErrorReply(
                            code=exc.code, message=f"the reply is too large: {exc.message}"
                        )
                        await msg.respond(encode(too_large), headers=context_headers(request_id))
                except NbaError as exc:
                    # The requester may have gone (timeout, closed bus): nothing to answer.
                    log.warning("actor.reply_failed", code=exc.code, error=exc.message)

    async def _answer(
        self, msg: Msg, route: Route, decoder: Any, request_id: str
    ) -> tuple[msgspec.Struct | None, str]:
        """The handler's reply (or the error reply) and the outcome: ``ok`` or an error code."""
        try:
            request = decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.failed += 1
            log.warning("actor.bad_message", error=str(exc))
            return _refusal(msg, route.types, exc), ErrorCode.INVALID_INPUT
        ctx = Context(request_id=request_id, subject=msg.subject, headers=msg.headers, bus=self.bus)
        try:
            reply = await route.handler(request, ctx)
            self.handled += 1
            return reply, "ok"
        except NbaError as exc:
            self.failed += 1
            log.info("actor.request_failed", code=exc.code, error=exc.message)
            return ErrorReply(code=exc.code, message=exc.message, details=exc.details), exc.code
        except asyncio.CancelledError:
            raise
        except Exception:
            # Actor boundary: a bug in a handler must not kill the worker or
            # leave the caller waiting; the caller gets a code and the request
            # id, the log gets the traceback.
            self.failed += 1
            log.exception("actor.handler_crashed")
            message = f"internal error in the {self.name} worker (request id {request_id})"
            return ErrorReply(code=ErrorCode.INTERNAL, message=message), ErrorCode.INTERNAL

    # ---- durable consumers ---------------------------------------------------
    async def _start_consumer(self, route: DurableRoute) -> None:
        consumer = await self.ctx.events.consumer(route.consumer, route.subject_filter)
        decoders = {e.subject: decoder_for(e.message) for e in route.events}

        async def handle(batch: list[DurableMsg]) -> None:
            async with self._slots:
                deliveries: list[Delivery[Any]] = []
                for m in batch:
                    decoder = decoders.get(m.subject)
                    if decoder is None:
                        continue  # not this consumer's business: acked with the batch
                    try:
                        deliveries.append(Delivery(m, decoder.decode(m.data)))
                    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                        self.failed += 1
                        log.warning(
                            "actor.bad_event", actor=self.name, seq=m.seq, subject=m.subject, error=str(exc)
                        )
                        await m.term()
                if not deliveries:
                    return
                with bind_request(f"{route.consumer}-batch", actor=self.name):
                    try:
                        await route.handler(deliveries)
                    except Exception:
                        self.failed += 1
                        raise  # the loop logs it and hands the batch back later
                self.handled += len(deliveries)

        loop = BatchLoop(
            consumer, handle, batch_size=route.batch_size, max_delay_s=route.max_delay_s, name=route.consumer
        )
        self.consumers[route.consumer] = loop
        loop.start()

    # ---- backups -----------------------------------------------------------
    async def _on_backup(self, request: BackupRequest, ctx: Context) -> BackupPart:
        from nbamcp.ops.backup import backup_home, read_manifest, total_bytes

        dest = Path(request.dest)
        if not dest.is_absolute():
            raise InvalidInput(f"the backup folder must be an absolute path, got {request.dest!r}")
        if not BACKUP_NAME.match(request.name):
            raise InvalidInput(f"not a backup name: {request.name!r} (nbamcp-<UTC stamp>)")
        path = await asyncio.to_thread(
            backup_home, self.config, dest / request.name, name=self.instance, label=self.instance
        )
        m = read_manifest(path)
        return BackupPart(
            worker=self.name,
            instance=self.instance,
            part=path.name,
            home=str(self.config.home),
            files=len(m.files),
            bytes=total_bytes(m),
            digest=m.digest,
        )

    # ---- health ------------------------------------------------------------
    async def _on_health(self, msg: Msg) -> None:
        try:
            decoder_for(HealthPing).decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        if msg.reply:
            await msg.respond(encode(self.health()))

    def health(self) -> HealthReport:
        problems = [p for p in (self.bus.link.problem(), *self.problems()) if p]
        status = "degraded" if problems and self.status == "ok" else self.status
        detail = self.health_detail()
        if problems:
            detail = {**detail, "degraded": "; ".join(problems)}
        return HealthReport(
            name=self.name,
            instance=self.instance,
            status=status,
            version=__version__,
            uptime_s=round(time.monotonic() - self._started_at, 3),
            bus=self.bus.kind,
            inflight=len(self._inflight),
            handled=self.handled,
            failed=self.failed,
            subjects=[r.subject for r in self.routes()],
            detail=detail,
            requests=self.requests,
            request_errors=self.request_errors,
            busy_s=round(self.busy_s, 6),
        )


async def _cancel(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=_CANCEL_GRACE_S)
        for task in stuck:
            log.error("actor.task_ignores_cancel", task=task.get_name())
