"""The durable event stream of a process, built from the configuration, and typed publishing.

The bus package knows streams (``nbamcp.bus.durable``) but no subject, message or
setting of this project; this module puts them together: the stream's name,
subjects and limits come from ``[events]``, and :func:`publish_durable` encodes a
message of an :class:`~nbamcp.endpoints.Event` with the event's dedup id.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from nbamcp.bus.base import Bus
from nbamcp.bus.durable import DurableStream, PublishAck, StreamSettings
from nbamcp.config import Config
from nbamcp.endpoints import Event
from nbamcp.errors import InvalidSubject
from nbamcp.messages import encode
from nbamcp.ops.tracing import context_headers
from nbamcp.subjects import EVENTS_ALL, TRAIN_QUEUE

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

    With ``request_id``, the headers carry the request's id, traceparent and tenant.

    The dedup id is ``msg_id``, else the event's own (``Event.dedup``): a retried
    publish of the same message is stored once.
    """
    if not event.durable:
        raise InvalidSubject(f"{event.subject} is not a durable event")
    if msg_id is None and event.dedup is not None:
        msg_id = event.dedup(msg)
    # The request's trace and tenant travel with it (from the caller's context).
    headers = context_headers(request_id) if request_id else None
    return await stream.publish(event.subject, encode(msg), headers=headers, msg_id=msg_id)


async def open_events(bus: Bus, config: Config) -> DurableStream:
    """The durable event stream of a process: JetStream on NATS, the SQLite outbox of the home
    in process (one per process: the launcher opens it and hands it to every worker)."""
    settings = settings_from(config)
    if bus.kind == "nats":
        from nbamcp.bus.durable_jetstream import JetStreamEvents
        from nbamcp.bus.nats import NatsBus

        assert isinstance(bus, NatsBus)
        return await JetStreamEvents.open(bus, settings)
    from nbamcp.bus.durable_sqlite import SqliteEvents

    return await SqliteEvents.open(config.events_path, settings=settings, bus=bus)


def train_queue_settings(config: Config) -> StreamSettings:
    """The trainer's job queue (``nba.train.queue``) as ``[retrain]`` configures it."""
    rt = config.retrain
    return StreamSettings(
        name=rt.queue_stream,
        subjects=TRAIN_QUEUE,
        ack_wait_s=rt.ack_wait_s,
        max_deliver=rt.max_deliver,
        publish_timeout_s=config.events.publish_timeout_s,
        retention="workqueue",
    )


async def open_train_queue(bus: Bus, config: Config) -> DurableStream:
    """The trainer's durable work queue: a JetStream work-queue stream on NATS, an SQLite
    outbox of its own in the trainer's home in process (the same seam as the event stream)."""
    settings = train_queue_settings(config)
    if bus.kind == "nats":
        from nbamcp.bus.durable_jetstream import JetStreamEvents
        from nbamcp.bus.nats import NatsBus

        assert isinstance(bus, NatsBus)
        return await JetStreamEvents.open(bus, settings)
    from nbamcp.bus.durable_sqlite import SqliteEvents

    # No core fan-out: nobody but the trainer listens to its queue.
    return await SqliteEvents.open(config.train_queue_path, settings=settings)
