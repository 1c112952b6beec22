"""The durable stream on NATS: one JetStream stream, one durable pull consumer per name.

The stream (``NBA_EVENTS`` by default) captures ``nba.events.>`` on file
storage with limits retention (``max_age``) and a duplicate window, so a
publish carrying a ``msg_id`` (``Nats-Msg-Id``) is stored once. Consumers are
durable pull consumers with explicit acks: a worker fetches a batch, persists
it, then acks; whatever it had not acked when it died is redelivered after
``ack_wait``. Several processes with the same consumer name share the work.

After NATS reconnects (``bus.link``) the stream is made again if the server lost
it (restarted without its store), then every open consumer, in that order; a
fetch waiting on a pull the old server took with it returns at once. A publish
that finds no stream makes it once and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from nats import errors as nats_errors
from nats.aio.msg import Msg as NatsMsg
from nats.js import api
from nats.js import errors as js_errors

from nbamcp.bus.durable import DurableMsg, PublishAck, StreamSettings, check_consumer, check_event_subject
from nbamcp.bus.jetstream_setup import tried_again
from nbamcp.bus.nats import NatsBus, translate
from nbamcp.errors import BusError, InvalidInput, Unavailable

log = structlog.get_logger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


class JetStreamMsg:
    """One delivery of a stream message."""

    __slots__ = ("_m", "data", "headers", "num_delivered", "seq", "subject")

    def __init__(self, m: NatsMsg) -> None:
        md = m.metadata
        self._m = m
        self.subject = m.subject
        self.data = m.data
        self.headers = dict(m.headers or {})
        self.seq = int(md.sequence.stream)
        self.num_delivered = int(md.num_delivered)

    async def ack(self) -> None:
        with contextlib.suppress(nats_errors.MsgAlreadyAckdError):
            await self._m.ack()

    async def nak(self, delay_s: float = 0.0) -> None:
        with contextlib.suppress(nats_errors.MsgAlreadyAckdError):
            await self._m.nak(delay=delay_s or None)

    async def term(self) -> None:
        with contextlib.suppress(nats_errors.MsgAlreadyAckdError):
            await self._m.term()

    async def in_progress(self) -> None:
        with contextlib.suppress(nats_errors.MsgAlreadyAckdError):
            await self._m.in_progress()


class JetStreamConsumer:
    """A handle on a durable pull consumer, pulling into its own inbox.

    nats-py's ``fetch`` waits for each message of a batch separately (about
    0.1 ms a message); this pulls the same way (``CONSUMER.MSG.NEXT`` requests)
    but lets a subscription callback collect the batch. A fetch first asks for
    what is there now (``no_wait``), and only if that is nothing, waits for the
    next message up to the timeout. Messages of a pull that arrive after its
    fetch returned are kept for the next fetch.
    """

    def __init__(self, events: JetStreamEvents, name: str, filter: str) -> None:
        self._events = events
        self.name = name
        self.filter = filter
        self._closed = False
        self._ready: deque[NatsMsg] = deque()
        self._waiting_for = ""  # the pull request a fetch is waiting on
        self._ended = False  # ... and whether the server has finished it (status 404/408/409)
        self._changed = asyncio.Event()
        self._seq = itertools.count(1)
        self._inbox = ""
        self._sub: Any = None
        self._next_subject = f"{api.DEFAULT_PREFIX}.CONSUMER.MSG.NEXT.{events.settings.name}.{name}"

    async def _subscribe(self) -> None:
        self._inbox = self._events.bus.nc.new_inbox()
        self._sub = await self._events.bus.nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)

    async def _on_msg(self, m: NatsMsg) -> None:
        status = m.headers.get(api.Header.STATUS) if m.headers else None
        if not status:
            self._ready.append(m)
        elif status == "100":
            return  # idle heartbeat / flow control: nothing to hand out
        else:
            if status not in ("404", "408"):
                description = m.headers.get(api.Header.DESCRIPTION, "") if m.headers else ""
                log.warning("durable.pull_status", consumer=self.name, status=status, description=description)
            # Statuses of earlier pulls (expired after their fetch returned) are not news.
            if m.subject == self._waiting_for:
                self._ended = True
        self._changed.set()

    async def _pull(self, batch: int, *, expires_s: float | None) -> None:
        subject = self._waiting_for = f"{self._inbox}.{next(self._seq)}"
        self._ended = False
        req: dict[str, Any] = {"batch": batch}
        if expires_s is None:
            req["no_wait"] = True
        else:
            req["expires"] = int(expires_s * 1e9)
        try:
            await self._events.bus.nc.publish(self._next_subject, json.dumps(req).encode(), reply=subject)
        except nats_errors.Error as exc:
            raise translate(exc, self._next_subject) from None

    async def _wait(self, want: int, deadline: float) -> None:
        """Until ``want`` messages are ready, the current pull has ended, or the deadline."""
        loop = asyncio.get_running_loop()
        while len(self._ready) < want and not self._ended and not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    def _take(self, n: int) -> list[DurableMsg]:
        out: list[DurableMsg] = []
        while self._ready and len(out) < n:
            out.append(JetStreamMsg(self._ready.popleft()))
        return out

    async def fetch(self, max_msgs: int, timeout: float) -> list[DurableMsg]:
        if max_msgs < 1:
            raise InvalidInput(f"max_msgs must be >= 1, got {max_msgs}")
        if self._closed:
            return []
        if self._ready:
            return self._take(max_msgs)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        # What is there now...
        await self._pull(max_msgs, expires_s=None)
        await self._wait(max_msgs, deadline + 1.0)
        if self._ready:
            return self._take(max_msgs)
        # ...else wait for the next event, at most until the timeout.
        remaining = deadline - loop.time()
        if remaining < 0.002:
            return []
        await self._pull(max_msgs, expires_s=remaining)
        await self._wait(1, deadline + 0.05)
        return self._take(max_msgs)

    async def ack_all(self, msgs: Sequence[DurableMsg]) -> None:
        for m in msgs:
            await m.ack()
        # Acks are plain publishes: flush so that the server has them before we say done.
        await self._events.bus.flush(self._events.settings.publish_timeout_s)

    def _interrupt(self) -> None:
        """The pull in progress died with the old connection: let the waiting fetch return."""
        self._ended = True
        self._changed.set()

    async def close(self) -> None:
        """Stop; what was pulled but not handed out is delivered again after ack_wait."""
        if self._closed:
            return
        self._closed = True
        self._events._consumers.discard(self)
        self._changed.set()
        self._ready.clear()
        nc = self._events.bus.nc
        if self._sub is not None and not (nc.is_closed or nc.is_draining):
            with contextlib.suppress(nats_errors.Error, ValueError):
                await self._sub.unsubscribe()


class JetStreamEvents:
    """The durable stream over a :class:`NatsBus`. Build it with :meth:`open`."""

    def __init__(self, bus: NatsBus, settings: StreamSettings) -> None:
        self.bus = bus
        self._settings = settings
        self._js = bus.jetstream(timeout=settings.publish_timeout_s)
        self._consumers: set[JetStreamConsumer] = set()
        self._unhook: Any = None
        self.recoveries = 0

    @classmethod
    async def open(cls, bus: NatsBus, settings: StreamSettings) -> JetStreamEvents:
        """Create the stream, or bring an existing one to these settings."""
        ev = cls(bus, settings)
        await ev._ensure_stream()
        ev._unhook = bus.link.on_recovery(f"stream {settings.name}", ev.recover)
        return ev

    async def recover(self) -> None:
        """After a reconnect: the stream, then each open consumer (both made anew when missing)."""
        await self._ensure_stream()
        for consumer in list(self._consumers):
            await self._add_consumer(consumer)
            consumer._interrupt()
        self.recoveries += 1

    def _consumer_config(self, name: str, filter: str) -> api.ConsumerConfig:
        s = self._settings
        return api.ConsumerConfig(
            name=name,
            durable_name=name,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=s.ack_wait_s,
            max_deliver=s.max_deliver,
            filter_subject=filter,
            max_ack_pending=10_000,
        )

    async def _add_consumer(self, consumer: JetStreamConsumer) -> None:
        cfg = self._consumer_config(consumer.name, consumer.filter)
        try:
            # Create, or update an existing durable consumer in place (server >= 2.10).
            await tried_again(
                lambda: self._js.add_consumer(self._settings.name, cfg),
                what=f"consumer {consumer.name}",
                timeout_s=self._settings.publish_timeout_s,
            )
        except js_errors.APIError as exc:
            raise Unavailable(
                f"cannot open the durable consumer {consumer.name!r} on {self._settings.name}: "
                f"{exc.description}"
            ) from None
        except nats_errors.Error as exc:
            raise translate(exc, consumer.filter) from None

    @property
    def kind(self) -> str:
        return "jetstream"

    @property
    def settings(self) -> StreamSettings:
        return self._settings

    async def _ensure_stream(self) -> None:
        s = self._settings
        cfg = api.StreamConfig(
            name=s.name,
            subjects=[s.subjects],
            retention=(
                api.RetentionPolicy.WORK_QUEUE if s.retention == "workqueue" else api.RetentionPolicy.LIMITS
            ),
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.OLD,
            max_age=s.max_age_s,
            duplicate_window=s.duplicate_window_s,
        )

        async def add_or_update() -> None:
            try:
                await self._js.add_stream(cfg)
            except js_errors.BadRequestError as add_error:
                # Exists with other settings (e.g. a new max_age): update it in place. If
                # it does not exist, the add failed for its own reason (another stream
                # already captures these subjects): report that one.
                try:
                    await self._js.update_stream(cfg)
                except js_errors.NotFoundError:
                    raise add_error from None

        try:
            await tried_again(add_or_update, what=f"stream {s.name}", timeout_s=s.publish_timeout_s)
        except (nats_errors.NoRespondersError, js_errors.ServiceUnavailableError, nats_errors.TimeoutError):
            raise Unavailable(
                f"JetStream does not answer on {self.bus.url}: start nats-server with -js "
                "(the durable event stream needs it)"
            ) from None
        except js_errors.APIError as exc:
            raise Unavailable(f"cannot create the JetStream stream {s.name}: {exc.description}") from None
        log.info("durable.stream_ready", stream=s.name, subjects=s.subjects, url=self.bus.url)

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> PublishAck:
        check_event_subject(subject, self._settings)
        hdrs = dict(headers or {})
        if msg_id:
            hdrs[MSG_ID_HEADER] = msg_id
        try:
            try:
                ack = await self._publish(subject, data, hdrs)
            except js_errors.NoStreamResponseError:
                # The server lost the stream (and recovery has not made it yet): make it, once.
                await self._ensure_stream()
                ack = await self._publish(subject, data, hdrs)
        except js_errors.NoStreamResponseError:
            raise Unavailable(
                f"no JetStream stream stored {subject!r}: is the {self._settings.name} stream there?"
            ) from None
        except js_errors.APIError as exc:
            raise BusError(f"JetStream refused the event on {subject!r}: {exc.description}") from None
        except nats_errors.Error as exc:
            raise translate(exc, subject) from None
        return PublishAck(ack.stream, int(ack.seq), bool(ack.duplicate))

    async def _publish(self, subject: str, data: bytes, hdrs: dict[str, str]) -> Any:
        return await self._js.publish(
            subject,
            data,
            timeout=self._settings.publish_timeout_s,
            stream=self._settings.name,
            headers=hdrs or None,
        )

    async def consumer(self, name: str, filter: str | None = None) -> JetStreamConsumer:
        filter = check_consumer(name, filter, self._settings)
        consumer = JetStreamConsumer(self, name, filter)
        await self._add_consumer(consumer)
        try:
            await consumer._subscribe()
        except nats_errors.Error as exc:
            raise translate(exc, filter) from None
        self._consumers.add(consumer)
        return consumer

    async def close(self) -> None:
        """The stream and its consumers live on the server: stop recovering them."""
        if self._unhook is not None:
            self._unhook()
