"""The worker actor base: one lifecycle for every worker.

An actor subscribes to its subjects, decodes each message with a decoder built
once, hands it to a handler, and replies (or publishes events). It owns its
state; nothing else touches it. The lifecycle, after arq's worker:

- ``start``: ``on_start`` (open the database, load the model...), subscribe,
  answer health pings, then ``ready`` is set.
- while running: at most ``concurrency`` messages in flight; more wait in the
  bus (back-pressure instead of unbounded tasks).
- ``stop``: stop taking work (unsubscribe), let in-flight messages finish
  within the deadline, cancel the rest, then ``on_stop`` (flush, close).

``_dispatch`` is the one boundary where an unexpected exception becomes an
``ErrorReply`` plus a log line carrying the request id.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import msgspec
import structlog

from nbamcp import __version__
from nbamcp.bus.base import REQUEST_ID_HEADER, Bus, Msg, Subscription
from nbamcp.endpoints import HEALTH, Endpoint, Event
from nbamcp.errors import ErrorCode, NbaError
from nbamcp.log import bind_request, request_id_from
from nbamcp.messages import ErrorReply, HealthPing, HealthReport, decoder_for, encode
from nbamcp.messages.validation import explain, inline_refs

if TYPE_CHECKING:
    from nbamcp.config import Config

log = structlog.get_logger(__name__)
M = TypeVar("M", bound=msgspec.Struct)


@dataclass(slots=True)
class Context:
    """What a handler knows about the message it handles."""

    request_id: str
    subject: str
    headers: Mapping[str, str]
    bus: Bus

    async def publish(self, event: Event[M], msg: M) -> None:
        """Publish an event that carries this request's id onward."""
        await self.bus.publish(event.subject, encode(msg), headers={REQUEST_ID_HEADER: self.request_id})


Handler = Callable[[Any, Context], Awaitable[msgspec.Struct | None]]


_DEFAULT = object()


@dataclass(frozen=True, slots=True, init=False)
class Route:
    """One subscription of an actor: an endpoint (or event) of ``nbamcp.endpoints`` and its handler.

    The queue group is the endpoint's (several instances of a worker share the
    load); an event is subscribed with its usual group unless ``queue`` says
    otherwise (``None``: every instance gets every message, e.g. model reloads).
    """

    subject: str
    types: Any
    handler: Handler
    queue: str | None

    def __init__(
        self, endpoint: Endpoint[Any] | Event[Any], handler: Handler, *, queue: str | object | None = _DEFAULT
    ) -> None:
        types = endpoint.request if isinstance(endpoint, Endpoint) else endpoint.message
        group = endpoint.queue if queue is _DEFAULT else queue
        object.__setattr__(self, "subject", endpoint.subject)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "handler", handler)
        object.__setattr__(self, "queue", group)


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
    """Base class of every worker. Subclasses set ``name`` and ``routes``."""

    name: ClassVar[str] = "actor"

    def __init__(self, bus: Bus, *, concurrency: int = 32, stop_deadline_s: float = 10.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.bus = bus
        self.instance = f"{self.name}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.ready = asyncio.Event()
        self.status = "starting"
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._stop_deadline_s = stop_deadline_s
        self._subs: list[Subscription] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._started_at = time.monotonic()
        self.handled = 0
        self.failed = 0

    @classmethod
    def from_config(cls, bus: Bus, config: Config) -> Self:
        """Build the actor from the process configuration (subclasses add their settings)."""
        return cls(
            bus, concurrency=config.workers.concurrency, stop_deadline_s=config.workers.stop_deadline_s
        )

    # ---- to override ---------------------------------------------------
    def routes(self) -> list[Route]:
        return []

    async def on_start(self) -> None:
        """Acquire what the actor owns (connections, models). Runs before subscribing."""

    async def on_stop(self) -> None:
        """Flush and close what the actor owns. Runs after in-flight work ended."""

    def health_detail(self) -> dict[str, str]:
        return {}

    # ---- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        await self.on_start()
        for route in self.routes():
            decoder = decoder_for(route.types)

            async def on_msg(msg: Msg, route: Route = route, decoder: Any = decoder) -> None:
                await self._admit(msg, route, decoder)

            self._subs.append(await self.bus.subscribe(route.subject, on_msg, queue=route.queue))
        # Health is plain (no queue group): every instance answers for itself.
        for subject in (HEALTH.subject, HEALTH.at(self.name).subject):
            self._subs.append(await self.bus.subscribe(subject, self._on_health))
        self._started_at = time.monotonic()
        self.status = "ok"
        self.ready.set()
        log.info("actor.started", actor=self.name, instance=self.instance, bus=self.bus.kind)

    async def stop(self, deadline_s: float | None = None) -> None:
        """Stop taking work, let in-flight messages finish, then close."""
        if self.status == "stopped":
            return
        self.status = "stopping"
        deadline = self._stop_deadline_s if deadline_s is None else deadline_s
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=deadline)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("actor.stop.cancelled", actor=self.name, cancelled=len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        await self.on_stop()
        self.status = "stopped"
        log.info("actor.stopped", actor=self.name, handled=self.handled, failed=self.failed)

    # ---- message handling --------------------------------------------------
    async def _admit(self, msg: Msg, route: Route, decoder: Any) -> None:
        # Waiting for a slot here, inside the subscription callback, holds the
        # rest of the subscription's messages in the bus: back-pressure.
        await self._slots.acquire()
        task = asyncio.create_task(self._run(msg, route, decoder))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, msg: Msg, route: Route, decoder: Any) -> None:
        try:
            await self._dispatch(msg, route, decoder)
        finally:
            self._slots.release()

    async def _dispatch(self, msg: Msg, route: Route, decoder: Any) -> None:
        request_id = request_id_from(msg.headers)
        with bind_request(request_id, actor=self.name, subject=msg.subject):
            reply: msgspec.Struct | None
            try:
                request = decoder.decode(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.failed += 1
                log.warning("actor.bad_message", error=str(exc))
                reply = _refusal(msg, route.types, exc)
            else:
                ctx = Context(request_id=request_id, subject=msg.subject, headers=msg.headers, bus=self.bus)
                try:
                    reply = await route.handler(request, ctx)
                    self.handled += 1
                except NbaError as exc:
                    self.failed += 1
                    log.info("actor.request_failed", code=exc.code, error=exc.message)
                    reply = ErrorReply(code=exc.code, message=exc.message, details=exc.details)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Actor boundary: a bug in a handler must not kill the worker or
                    # leave the caller waiting; the caller gets a code and the request
                    # id, the log gets the traceback.
                    self.failed += 1
                    log.exception("actor.handler_crashed")
                    reply = ErrorReply(
                        code=ErrorCode.INTERNAL,
                        message=f"internal error in the {self.name} worker (request id {request_id})",
                    )
            if reply is not None and msg.reply:
                try:
                    await msg.respond(encode(reply), headers={REQUEST_ID_HEADER: request_id})
                except NbaError as exc:
                    # The requester may have gone (timeout, closed bus): nothing to answer.
                    log.warning("actor.reply_failed", code=exc.code, error=exc.message)

    async def _on_health(self, msg: Msg) -> None:
        try:
            decoder_for(HealthPing).decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        if msg.reply:
            await msg.respond(encode(self.health()))

    def health(self) -> HealthReport:
        return HealthReport(
            name=self.name,
            instance=self.instance,
            status=self.status,
            version=__version__,
            uptime_s=round(time.monotonic() - self._started_at, 3),
            bus=self.bus.kind,
            inflight=len(self._inflight),
            handled=self.handled,
            failed=self.failed,
            subjects=[r.subject for r in self.routes()],
            detail=self.health_detail(),
        )
