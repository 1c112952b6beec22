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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from nbamcp.bus.subjects import check_publish_subject, check_subscribe_subject, matches
from nbamcp.errors import InvalidInput, InvalidSubject

# Consumer names become JetStream durable names: keep them to safe tokens.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """What both implementations need: the stream's name and the subjects it captures
    (``a.b.>``), then its limits (the caller builds them from its configuration)."""

    name: str
    subjects: str
    max_age_s: float = 30 * 86400.0
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    publish_timeout_s: float = 5.0
    duplicate_window_s: float = 120.0
    # "limits": kept until max_age (every consumer sees every event); "workqueue": a job queue,
    # each message gone once acked (JetStream's WorkQueue retention; the outbox prunes what
    # every consumer has acked, so one consumer makes it the same thing).
    retention: str = "limits"


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

    async def in_progress(self) -> None:
        """Still working on it: the ``ack_wait`` clock starts again (long jobs)."""
        ...


@runtime_checkable
class DurableConsumer(Protocol):
    name: str
    filter: str

    async def fetch(self, max_msgs: int, timeout: float) -> Sequence[DurableMsg]:
        """Up to ``max_msgs`` messages, as soon as there are some: what is there now,
        else the first to arrive within ``timeout``; [] if none came. (Batching up
        to a size or a delay is the caller's business: see ``BatchLoop``.)"""
        ...

    async def ack_all(self, msgs: Sequence[DurableMsg]) -> None:
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

    async def consumer(self, name: str, filter: str | None = None) -> DurableConsumer:
        """The durable consumer ``name`` of the events matching ``filter`` (None: all of them)."""
        ...

    async def close(self) -> None: ...


# ---- shared checks --------------------------------------------------------------------------------
def check_event_subject(subject: str, settings: StreamSettings) -> str:
    """A publish subject the stream captures (``nba.events.<kind>``), else InvalidSubject."""
    check_publish_subject(subject)
    if not matches(settings.subjects, subject):
        raise InvalidSubject(
            f"{subject!r} is not captured by the durable stream {settings.name} "
            f"({settings.subjects}): publish durable events on subjects it captures"
        )
    return subject


def check_consumer(name: str, filter: str | None, settings: StreamSettings) -> str:
    """The consumer's filter (the stream's subjects when None), else InvalidInput / InvalidSubject."""
    if filter is None:
        filter = settings.subjects
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
    return filter
