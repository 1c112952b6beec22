"""The NATS bus: the bus contract over nats-py, for actors in many processes.

Same semantics as :class:`~nbamcp.bus.memory.InMemoryBus` (one contract test
suite runs against both); what differs is only where messages travel:

- every subscription feeds a :class:`~nbamcp.bus.delivery.Delivery`, so slow
  consumers, callback errors, unsubscribe and drain behave as in memory;
- requests use one wildcard reply subscription (``_INBOX.<id>.*``) and a
  future per request, like nats-py's own ``request``, but with shared
  deadline timers and a handle on every pending request so that ``close``
  can fail them with ``BusClosed`` instead of leaving them to time out;
- "no responders" comes from the server (status 503 on the reply subject);
  plain subscribers never see those status messages;
- nats-py errors become the project's bus errors (``BusClosed``,
  ``BusTimeout``, ``NoResponders``, ``PayloadTooLarge``, ``InvalidSubject``).

Connecting fails fast: a bad URL or a server that is down gives
``BusUnreachable`` naming the URL within about ``connect_timeout``; once
connected, the client reconnects by itself, forever, with a back-off that
doubles from ``reconnect_time_wait`` up to ``reconnect_max_wait`` (nats-py's
default gives up after 10 attempts and leaves a process up but dead). While it
is reconnecting, requests fail at once with ``BusUnreachable`` instead of
waiting out their timeout, and ``link`` (``nbamcp.bus.link``) says so; when it
is back, ``link`` runs the recovery hooks of whoever owns server-side state.
Secrets (token, password, creds) are passed in and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any

import structlog
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.aio.msg import Msg as NatsMsg
from nats.js import JetStreamContext

from nbamcp.bus.base import Handler, Msg
from nbamcp.bus.connect import redact_url
from nbamcp.bus.delivery import DEFAULT_PENDING_LIMIT, MAX_TIMEOUT, Deadlines, Delivery
from nbamcp.bus.link import DISCONNECTED, Link
from nbamcp.bus.subjects import (
    as_bytes,
    check_headers,
    check_publish_subject,
    check_queue,
    check_subscribe_subject,
    too_large,
)
from nbamcp.errors import (
    BusClosed,
    BusError,
    BusTimeout,
    BusUnreachable,
    InvalidSubject,
    NoResponders,
    PayloadTooLarge,
)

log = structlog.get_logger(__name__)

_STATUS = "Status"
_NO_RESPONDERS = "503"


def translate(exc: Exception, subject: str) -> BusError:
    """The project's bus error for a nats-py error."""
    match exc:
        case nats_errors.ConnectionClosedError() | nats_errors.ConnectionDrainingError():
            return BusClosed(f"the NATS connection is closed or draining: cannot use {subject!r}")
        case nats_errors.MaxPayloadError():
            return PayloadTooLarge(f"message on {subject!r} is larger than the server's max_payload")
        case nats_errors.NoRespondersError():
            return NoResponders(f"no responders on {subject!r}: nothing subscribes to it")
        case nats_errors.TimeoutError():
            return BusTimeout(f"NATS did not answer in time ({subject!r})")
        case nats_errors.BadSubjectError():
            return InvalidSubject(f"NATS refused the subject {subject!r}")
        case nats_errors.OutboundBufferLimitError():
            return BusError(f"not connected to NATS and the outbound buffer is full: cannot send {subject!r}")
    return BusError(f"NATS error on {subject!r}: {exc or type(exc).__name__}")


class NatsSubscription:
    """A subscription on a :class:`NatsBus`."""

    __slots__ = ("_bus", "_delivery", "_nsub", "queue", "subject")

    def __init__(self, bus: NatsBus, delivery: Delivery, nsub: Any) -> None:
        self.subject = delivery.subject
        self.queue = delivery.queue
        self._bus = bus
        self._delivery = delivery
        self._nsub = nsub

    @property
    def pending(self) -> int:
        return self._delivery.pending

    @property
    def dropped(self) -> int:
        """Messages lost because the callback fell behind (slow consumer)."""
        return self._delivery.dropped

    async def unsubscribe(self) -> None:
        """Stop delivery; queued messages are dropped, a running callback finishes. Idempotent."""
        if not self._delivery.active:
            return
        self._delivery.stop()
        self._bus._subs.discard(self)
        nc = self._bus.nc
        if not (nc.is_closed or nc.is_draining):
            # The connection may go away concurrently: then interest is gone anyway.
            with contextlib.suppress(nats_errors.Error):
                await self._nsub.unsubscribe()


class NatsBus:
    """The bus over a NATS server. Build it with :meth:`NatsBus.connect`."""

    def __init__(
        self,
        nc: Client,
        *,
        url: str,
        drain_timeout: float = 5.0,
        pending_limit: int = DEFAULT_PENDING_LIMIT,
    ) -> None:
        self.nc = nc
        self.url = redact_url(url)
        self._drain_timeout = drain_timeout
        self._pending_limit = pending_limit
        self._subs: set[NatsSubscription] = set()
        self._replies: dict[str, asyncio.Future[NatsMsg]] = {}
        self._seq = itertools.count(1)
        self._inbox = ""
        self._loop = asyncio.get_running_loop()
        self._deadlines = Deadlines(self._loop)
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._conn_state: dict[str, bool] = {}
        self.link = Link()

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str = "nbamcp",
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        creds: str | Path | None = None,
        connect_timeout: float = 2.0,
        drain_timeout: float = 5.0,
        pending_limit: int = DEFAULT_PENDING_LIMIT,
        max_reconnect_attempts: int = -1,
        reconnect_time_wait: float = 0.1,
        reconnect_max_wait: float = 2.0,
    ) -> NatsBus:
        """Connect to ``url`` or raise :class:`BusUnreachable` within about ``connect_timeout``.

        Only the first connection fails fast; once connected, the client
        reconnects after a disconnect: forever by default (``max_reconnect_attempts``
        -1), attempt n waiting ``reconnect_time_wait * 2**(n-1)`` (jittered) but
        never more than ``reconnect_max_wait``, so an outage is noticed over within
        about that long once the server is back.
        """
        safe_url = redact_url(url)
        # "connecting": errors are collected for the message; "closing": our
        # own close, nothing to warn about.
        state = {"connecting": True, "closing": False}
        first_errors: list[Exception] = []

        link_of: list[Link] = []  # the bus's link, once the bus exists

        async def on_error(exc: Exception) -> None:
            if state["connecting"]:
                first_errors.append(exc)
            elif link_of and link_of[0].state == DISCONNECTED and isinstance(exc, (OSError, TimeoutError)):
                # A refused attempt while the server is away: the outage was logged once already.
                log.debug("bus.nats.reconnect_failed", error=str(exc) or type(exc).__name__, url=safe_url)
            elif isinstance(exc, nats_errors.SlowConsumerError):
                log.error("bus.nats.slow_consumer", subject=exc.subject, url=safe_url)
            else:
                log.warning("bus.nats.error", error=str(exc) or type(exc).__name__, url=safe_url)

        async def on_disconnected() -> None:
            if not (state["connecting"] or state["closing"]):
                log.warning("bus.nats.disconnected", url=safe_url)
                if link_of:
                    link_of[0].mark_disconnected()

        async def on_reconnected() -> None:
            log.info("bus.nats.reconnected", url=safe_url)
            if link_of:
                link_of[0].mark_reconnected()

        async def on_closed() -> None:
            if not (state["connecting"] or state["closing"]):
                # nats-py gave up reconnecting (only with a finite max_reconnect_attempts):
                # every bus call now raises BusClosed.
                log.error("bus.nats.connection_lost", url=safe_url)
                if link_of:
                    link_of[0].mark_disconnected()

        def next_attempt(servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
            # Exponential back-off with jitter, bounded: attempt 0 right away (a restart
            # may already be over), then 0.1 s, 0.2 s, ... up to reconnect_max_wait.
            n = servers[0].reconnects if servers else 0
            if link_of:
                link_of[0].attempt()
            if n == 0:
                return None, 0.0
            if n & (n - 1) == 0:  # attempts 1, 2, 4, 8, ...: the outage goes on, without a line per try
                log.info("bus.nats.reconnecting", attempt=n, url=safe_url)
            delay = min(reconnect_time_wait * 2 ** (n - 1), reconnect_max_wait)
            return None, delay * (0.8 + 0.2 * random.random())

        nc = Client()
        try:
            # nats-py bounds each step by connect_timeout; this bounds them all.
            async with asyncio.timeout(2 * connect_timeout + 1.0):
                await nc.connect(
                    servers=[url],
                    name=name,
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                    closed_cb=on_closed,
                    connect_timeout=connect_timeout,  # type: ignore[arg-type]
                    # Fail fast at start-up: two quick attempts, no back-off.
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    # Used once reconnects are allowed (below): the back-off between attempts.
                    reconnect_to_server_handler=next_attempt,
                    drain_timeout=drain_timeout,  # type: ignore[arg-type]
                    token=token,
                    user=user,
                    password=password,
                    user_credentials=str(creds) if creds is not None else None,
                )
        except (OSError, nats_errors.Error, TimeoutError, ValueError) as exc:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await nc.close()
            raise BusUnreachable(_unreachable_message(safe_url, connect_timeout, exc, first_errors)) from None
        state["connecting"] = False
        # From now on a lost connection is retried in the background.
        nc.options["allow_reconnect"] = True
        nc.options["max_reconnect_attempts"] = max_reconnect_attempts
        nc.options["reconnect_time_wait"] = reconnect_time_wait
        bus = cls(nc, url=url, drain_timeout=drain_timeout, pending_limit=pending_limit)
        bus._conn_state = state
        link_of.append(bus.link)
        await bus._start()
        log.info("bus.nats.connected", url=safe_url, max_payload=nc.max_payload)
        return bus

    async def _start(self) -> None:
        self._inbox = self.nc.new_inbox() + "."
        await self.nc.subscribe(self._inbox + "*", cb=self._on_reply)

    async def _on_reply(self, m: NatsMsg) -> None:
        fut = self._replies.pop(m.subject, None)
        if fut is not None and not fut.done():
            fut.set_result(m)

    @property
    def kind(self) -> str:
        return "nats"

    @property
    def max_payload(self) -> int:
        return self.nc.max_payload

    @property
    def is_closed(self) -> bool:
        return self.nc.is_closed

    def jetstream(self, **opts: Any) -> JetStreamContext:
        """The JetStream context of this connection (durable streams, KV)."""
        return self.nc.jetstream(**opts)

    def _prepare(
        self, subject: str, data: bytes, headers: Mapping[str, str] | None
    ) -> tuple[bytes, dict[str, str] | None]:
        if data.__class__ is not bytes:
            data = as_bytes(data)
        limit = self.nc.max_payload
        if headers:
            return data, check_headers(subject, len(data), headers, limit)
        if len(data) > limit:
            raise too_large(subject, len(data), limit)
        return data, None

    # ---- the Bus protocol ------------------------------------------------
    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        reply: str | None = None,
    ) -> None:
        check_publish_subject(subject)
        if reply is not None:
            check_publish_subject(reply)
        data, hdrs = self._prepare(subject, data, headers)
        try:
            await self.nc.publish(subject, data, reply=reply or "", headers=hdrs)
        except nats_errors.Error as exc:
            raise translate(exc, subject) from None

    def _respond(self, reply: str, data: bytes, headers: Mapping[str, str] | None) -> Awaitable[None]:
        return self.publish(reply, data, headers=headers)  # Msg.respond awaits it

    async def request(
        self,
        subject: str,
        data: bytes,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> Msg:
        if self._closing:
            raise BusClosed(f"the bus is closed: cannot send a request to {subject!r}")
        if self.nc.is_reconnecting:
            # Nobody could answer before the link is back: say so now rather than at the timeout.
            why = self.link.problem() or "reconnecting"
            raise BusUnreachable(f"cannot send a request to {subject!r}: {why}")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise BusError(f"request timeout must be > 0 and <= {MAX_TIMEOUT:g} seconds, got {timeout!r}")
        check_publish_subject(subject)
        data, hdrs = self._prepare(subject, data, headers)
        reply = f"{self._inbox}{next(self._seq)}"
        fut: asyncio.Future[NatsMsg] = self._loop.create_future()
        self._replies[reply] = fut
        armed = self._deadlines.add(fut, timeout)
        try:
            await self.nc.publish(subject, data, reply=reply, headers=hdrs)
            m = await fut
        except BusTimeout:
            raise BusTimeout(f"no reply on {subject!r} within {timeout:g}s") from None
        except nats_errors.Error as exc:
            raise translate(exc, subject) from None
        finally:
            armed.discard(fut)
            self._replies.pop(reply, None)
        hdr = m.headers
        if hdr and not m.data and hdr.get(_STATUS) == _NO_RESPONDERS:
            raise NoResponders(f"no responders on {subject!r}: nothing subscribes to it")
        return Msg(m.subject, m.data, None, hdr or {}, None)

    async def subscribe(self, subject: str, cb: Handler, *, queue: str | None = None) -> NatsSubscription:
        check_subscribe_subject(subject)
        check_queue(queue)
        if self._closing:
            raise BusClosed(f"the bus is closed: cannot subscribe to {subject!r}")
        delivery = Delivery(subject, queue, cb, limit=self._pending_limit)
        put = delivery.put
        respond = self._respond

        async def on_msg(m: NatsMsg) -> None:
            hdr = m.headers
            if hdr and not m.data and _STATUS in hdr:
                return  # a server status (e.g. no responders for a publish with reply)
            put(Msg(m.subject, m.data, m.reply or None, hdr or {}, respond))

        try:
            nsub = await self.nc.subscribe(subject, queue=queue or "", cb=on_msg)
        except nats_errors.Error as exc:
            await delivery.cancel()
            raise translate(exc, subject) from None
        sub = NatsSubscription(self, delivery, nsub)
        self._subs.add(sub)
        return sub

    def new_inbox(self) -> str:
        return self.nc.new_inbox()

    async def flush(self, timeout: float = 5.0) -> None:
        try:
            await self.nc.flush(timeout)  # type: ignore[arg-type]
        except nats_errors.Error as exc:
            raise translate(exc, "flush") from None

    async def close(self) -> None:
        """Drain: stop interest, let callbacks finish queued work, fail pending requests, close.

        Idempotent, and shielded: a caller that stops waiting does not leave
        the connection half closed.
        """
        if self._close_task is None:
            self._closing = True  # no new requests or subscriptions from now on
            self._close_task = self._loop.create_task(self._close(asyncio.current_task()), name="bus-close")
        await asyncio.shield(self._close_task)

    async def _close(self, caller: asyncio.Task[Any] | None) -> None:
        self._closing = True
        self._conn_state["closing"] = True
        await self.link.close()
        subs = list(self._subs)
        self._subs.clear()
        deadline = self._loop.time() + self._drain_timeout
        results = await asyncio.gather(*(self._drain_sub(s, deadline, caller) for s in subs))
        if self._replies and self.nc.is_connected:
            # Replies our own callbacks just sent are still on their way
            # through the server: one round trip brings them back.
            with contextlib.suppress(nats_errors.Error, TimeoutError):
                await self.nc.flush(max(deadline - self._loop.time(), 0.1))  # type: ignore[arg-type]
            await asyncio.sleep(0)  # let the reply subscription's task hand them over
        pending = [f for f in self._replies.values() if not f.done()]
        for fut in pending:
            fut.set_exception(BusClosed("the bus was closed before a reply arrived"))
        self._replies.clear()
        await self._close_connection()
        log.info(
            "bus.closed",
            kind="nats",
            url=self.url,
            subscriptions=len(subs),
            cancelled=results.count(False),
            failed_requests=len(pending),
        )

    async def _drain_sub(
        self, sub: NatsSubscription, deadline: float, caller: asyncio.Task[Any] | None
    ) -> bool:
        nc = self.nc
        if nc.is_connected:
            # Unsubscribe at the server, then wait for what it already sent.
            with contextlib.suppress(nats_errors.Error, TimeoutError):
                async with asyncio.timeout(max(deadline - self._loop.time(), 0.0)):
                    await sub._nsub.drain()
        return await sub._delivery.drain(deadline - self._loop.time(), caller=caller)

    async def _close_connection(self) -> None:
        nc = self.nc
        if nc.is_closed:
            return
        if not nc.is_connected:
            # Reconnecting: there is no server to drain through.
            with contextlib.suppress(Exception):
                await nc.close()
            return
        try:
            async with asyncio.timeout(self._drain_timeout + 1.0):
                await nc.drain()
        except (nats_errors.Error, TimeoutError) as exc:
            log.warning("bus.nats.drain_failed", error=str(exc) or type(exc).__name__, url=self.url)
        if not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()


def _unreachable_message(url: str, connect_timeout: float, exc: BaseException, seen: list[Exception]) -> str:
    causes = [*seen, exc]
    text = " ".join(str(c) for c in causes).lower()
    if "authorization" in text or "authentication" in text:
        return (
            f"the NATS server at {url} refused the connection: authorization failed "
            "(check the token, user/password or credentials file)"
        )
    cause = next((c for c in reversed(seen) if str(c)), exc)
    reason = str(cause) or type(cause).__name__
    return (
        f"cannot reach the NATS server at {url} (tried for up to {connect_timeout:g}s): {reason}. "
        "Is nats-server running there? Start it with `nats-server -js`, or use the in-memory bus "
        "(--bus memory://)."
    )
