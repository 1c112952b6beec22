"""The durable stream seam: events that must not be lost.

Core bus messages vanish when nobody listens; prediction-log events and new
results must survive a consumer that restarts. :class:`DurableStream` is that
guarantee behind one Protocol, with two implementations passing one contract
suite (``tests/predlog/test_durable_contract.py``):

- on NATS, :class:`~nbamcp.bus.durable_jetstream.JetStreamEvents`: a JetStream
  stream (``NBA_EVENTS`` capturing ``nba.events.>``) and one durable pull
  consumer per consumer name;
- in one process, :class:`~nbamcp.bus.durable_sqlite.SqliteEvents`: an SQLite
  outbox under ``paths.home``; ``publish`` returns once the event is committed.

Semantics both honour (JetStream's):

- ``publish`` returns a :class:`PublishAck` only once the event is stored; a
  ``msg_id`` seen before is stored once (``duplicate=True``), which makes
  retried publishes idempotent. Durable publishes also reach plain
  subscribers of the core bus (cache invalidation listens there).
- ``consumer(name, filter)`` opens (or resumes) the durable consumer ``name``:
  it sees every stored event matching ``filter`` that it has not acknowledged,
  in stream order, including those published before it first existed.
  Handles with the same name share the work.
- delivery is at least once: a message not acked within ``ack_wait`` (or
  nak'd, or in flight when the consumer died) is delivered again, at most
  ``max_deliver`` times; ``term`` drops a message for good (poison). Consumers
  therefore store idempotently, then ack.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec
import structlog

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.bus.subjects import check_publish_subject, check_subscribe_subject, matches
from nbamcp.errors import InvalidInput, InvalidSubject
from nbamcp.messages import PredictionEvent, encode
from nbamcp.subjects import EVENTS_ALL

if TYPE_CHECKING:
    from nbamcp.config import Config

log = structlog.get_logger(__name__)

# Consumer names become JetStream durable names: keep them to safe tokens.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """What both implementations need; built from ``[events]`` by :func:`settings_from`."""

    name: str = "NBA_EVENTS"
    subjects: str = EVENTS_ALL
    max_age_s: float = 30 * 86400.0
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    publish_timeout_s: float = 5.0
    duplicate_window_s: float = 120.0


@dataclass(frozen=True, slots=True)
class PublishAck:
    """The stream stored the event as ``seq`` (or already had it: ``duplicate``)."""

    stream: str
    seq: int
    duplicate: bool = False


@runtime_checkable
class DurableMsg(Protocol):
    """One delivery of a stored event."""

    subject: str
    data: bytes
    headers: dict[str, str]
    seq: int  # the event's position in the stream
    num_delivered: int  # 1 on first delivery

    async def ack(self) -> None:
        """Done with it: never deliver it to this consumer again."""
        ...

    async def nak(self, delay_s: float = 0.0) -> None:
        """Not done: deliver it again (after ``delay_s``)."""
        ...

    async def term(self) -> None:
        """Poison: never deliver it again, without processing it."""
        ...


@runtime_checkable
class DurableConsumer(Protocol):
    name: str
    filter: str

    async def fetch(self, max_msgs: int, timeout: float) -> list[DurableMsg]:
        """Up to ``max_msgs`` messages, as soon as there are some: what is there now,
        else the first to arrive within ``timeout``; [] if none came. (Batching up
        to a size or a delay is the caller's business: see ``BatchLoop``.)"""
        ...

    async def ack_all(self, msgs: list[DurableMsg]) -> None:
        """Ack ``msgs`` and return once the stream has the acks (one round trip)."""
        ...

    async def close(self) -> None:
        """Stop fetching; unacked messages will be delivered again. Idempotent."""
        ...


@runtime_checkable
class DurableStream(Protocol):
    @property
    def kind(self) -> str:
        """``"jetstream"`` or ``"sqlite"``."""
        ...

    @property
    def settings(self) -> StreamSettings: ...

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> PublishAck: ...

    async def consumer(self, name: str, filter: str = EVENTS_ALL) -> DurableConsumer: ...

    async def close(self) -> None: ...


# ---- shared checks --------------------------------------------------------------------------------
def check_event_subject(subject: str, settings: StreamSettings) -> str:
    """A publish subject the stream captures (``nba.events.<kind>``), else InvalidSubject."""
    check_publish_subject(subject)
    if not matches(settings.subjects, subject):
        raise InvalidSubject(
            f"{subject!r} is not captured by the durable stream {settings.name} "
            f"({settings.subjects}): durable events are published on nba.events.<kind>"
        )
    return subject


def check_consumer(name: str, filter: str, settings: StreamSettings) -> None:
    if not isinstance(name, str) or not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
        raise InvalidInput(
            f"consumer name {name!r} is not valid: use 1-64 letters, digits, '_' or '-' (e.g. 'predlog')"
        )
    check_subscribe_subject(filter)
    prefix = settings.subjects.removesuffix(">")
    if not (filter == settings.subjects or filter.startswith(prefix)):
        raise InvalidSubject(
            f"consumer filter {filter!r} is outside the durable stream {settings.name} ({settings.subjects})"
        )


# ---- publishing structs ---------------------------------------------------------------------------
def prediction_msg_id(event: PredictionEvent) -> str:
    """The dedup id of a prediction event: the same served prediction is stored once."""
    return (
        f"prediction:{event.request_id}:{event.model_name}:{event.model_version}:"
        f"{event.date}:{event.home}:{event.away}"
    )


async def publish_durable(
    stream: DurableStream,
    subject: str,
    msg: msgspec.Struct,
    *,
    request_id: str | None = None,
    msg_id: str | None = None,
) -> PublishAck:
    """Encode ``msg`` and publish it on the durable stream; returns once it is stored.

    A :class:`PredictionEvent` gets :func:`prediction_msg_id` as its dedup id
    unless ``msg_id`` is given, so a retried publish of the same prediction is
    stored once.
    """
    if msg_id is None and isinstance(msg, PredictionEvent):
        msg_id = prediction_msg_id(msg)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return await stream.publish(subject, encode(msg), headers=headers, msg_id=msg_id)


# ---- one stream per bus ---------------------------------------------------------------------------
def settings_from(config: Config) -> StreamSettings:
    ev = config.events
    return StreamSettings(
        name=ev.stream,
        max_age_s=ev.max_age_days * 86400.0,
        ack_wait_s=ev.ack_wait_s,
        max_deliver=ev.max_deliver,
        publish_timeout_s=ev.publish_timeout_s,
    )


@dataclass(slots=True)
class _Shared:
    bus: Bus  # held so that id(bus) cannot be reused while the entry lives
    stream: DurableStream
    refs: int = 0


_shared: dict[int, _Shared] = {}
# One lock per event loop (tests run many loops; a lock is bound to one).
_open_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


class StreamHandle:
    """One user's handle on the stream shared by every actor of a bus; ``close`` releases it."""

    def __init__(self, key: int, stream: DurableStream) -> None:
        self._key = key
        self._stream: DurableStream | None = stream

    def _get(self) -> DurableStream:
        if self._stream is None:
            from nbamcp.errors import BusClosed

            raise BusClosed("this durable stream handle was closed")
        return self._stream

    @property
    def kind(self) -> str:
        return self._get().kind

    @property
    def settings(self) -> StreamSettings:
        return self._get().settings

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> PublishAck:
        return await self._get().publish(subject, data, headers=headers, msg_id=msg_id)

    async def consumer(self, name: str, filter: str = EVENTS_ALL) -> DurableConsumer:
        return await self._get().consumer(name, filter)

    async def close(self) -> None:
        if self._stream is None:
            return
        self._stream = None
        shared = _shared.get(self._key)
        if shared is None:
            return
        shared.refs -= 1
        if shared.refs <= 0:
            del _shared[self._key]
            await shared.stream.close()


async def open_durable(bus: Bus, config: Config) -> StreamHandle:
    """The durable stream of ``bus``: JetStream on NATS, the SQLite outbox in process.

    Every actor of one process calls this with the same bus and gets a handle
    on ONE stream (the in-process consumers must see the publishes of the
    same outbox object); each closes its own handle in ``on_stop``.
    """
    loop = asyncio.get_running_loop()
    lock = _open_locks.get(loop)
    if lock is None:
        lock = _open_locks[loop] = asyncio.Lock()
    async with lock:
        key = id(bus)
        shared = _shared.get(key)
        if shared is None or shared.bus is not bus:
            stream = await _build(bus, config)
            shared = _shared[key] = _Shared(bus=bus, stream=stream)
        shared.refs += 1
        return StreamHandle(key, shared.stream)


async def _build(bus: Bus, config: Config) -> DurableStream:
    settings = settings_from(config)
    if bus.kind == "nats":
        from nbamcp.bus.durable_jetstream import JetStreamEvents
        from nbamcp.bus.nats import NatsBus

        assert isinstance(bus, NatsBus)
        return await JetStreamEvents.open(bus, settings)
    from nbamcp.bus.durable_sqlite import SqliteEvents

    return await SqliteEvents.open(config.events_path, settings=settings, bus=bus)
