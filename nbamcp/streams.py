"""The durable event stream of a process, built from the configuration, and typed publishing.

The bus package knows streams (``nbamcp.bus.durable``) but no subject, message or
setting of this project; this module puts them together: the stream's name,
subjects and limits come from ``[events]``, and :func:`publish_durable` encodes a
message of an :class:`~nbamcp.endpoints.Event` with the event's dedup id.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.bus.durable import DurableConsumer, DurableStream, PublishAck, StreamSettings
from nbamcp.config import Config
from nbamcp.endpoints import Event
from nbamcp.errors import BusClosed, InvalidSubject
from nbamcp.messages import encode
from nbamcp.subjects import EVENTS_ALL

M = TypeVar("M", bound=msgspec.Struct)


def settings_from(config: Config) -> StreamSettings:
    """The event stream (``nba.events.>``) as ``[events]`` configures it."""
    ev = config.events
    return StreamSettings(
        name=ev.stream,
        subjects=EVENTS_ALL,
        max_age_s=ev.max_age_days * 86400.0,
        ack_wait_s=ev.ack_wait_s,
        max_deliver=ev.max_deliver,
        publish_timeout_s=ev.publish_timeout_s,
    )


async def publish_durable(
    stream: DurableStream,
    event: Event[M],
    msg: M,
    *,
    request_id: str | None = None,
    msg_id: str | None = None,
) -> PublishAck:
    """Encode ``msg`` and publish it on the durable stream; returns once it is stored.

    The dedup id is ``msg_id``, else the event's own (``Event.dedup``): a retried
    publish of the same message is stored once.
    """
    if not event.durable:
        raise InvalidSubject(f"{event.subject} is not a durable event")
    if msg_id is None and event.dedup is not None:
        msg_id = event.dedup(msg)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return await stream.publish(event.subject, encode(msg), headers=headers, msg_id=msg_id)


# ---- one stream per bus ---------------------------------------------------------------------------
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

    async def consumer(self, name: str, filter: str | None = None) -> DurableConsumer:
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
