"""What an actor subscribes to: request/event routes on the bus and durable consumers.

Both are declared from ``nbamcp.endpoints``, so a subject, its message type and
its queue group are written once; the base (``nbamcp.actor.base``) runs both kinds
under the same counters, concurrency limit and stop deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from nbamcp.bus.base import TENANT_HEADER, Bus
from nbamcp.bus.durable import DurableMsg
from nbamcp.endpoints import Endpoint, Event
from nbamcp.messages import encode
from nbamcp.ops.tracing import context_headers

M = TypeVar("M", bound=msgspec.Struct)
E = TypeVar("E")


@dataclass(slots=True)
class Context:
    """What a handler knows about the message it handles."""

    request_id: str
    subject: str
    headers: Mapping[str, str]
    bus: Bus

    async def publish(self, event: Event[M], msg: M) -> None:
        """Publish an event that carries this request's id onward."""
        await self.bus.publish(event.subject, encode(msg), headers=context_headers(self.request_id))

    @property
    def tenant(self) -> str:
        """The tenant whose request this is ("" for the server's own work)."""
        return self.headers.get(TENANT_HEADER, "")


Handler = Callable[[Any, Context], Awaitable[msgspec.Struct | None]]

_DEFAULT: Any = object()


@dataclass(frozen=True, slots=True, init=False)
class Route:
    """One subscription: an endpoint (or event) of ``nbamcp.endpoints`` and its handler.

    The queue group is the endpoint's (several instances of a worker share the
    load); an event is subscribed with its usual group unless ``queue`` says
    otherwise (``None``: every instance gets every message, e.g. model reloads).
    """

    subject: str
    types: Any
    handler: Handler
    queue: str | None

    def __init__(
        self, endpoint: Endpoint[Any] | Event[Any], handler: Handler, *, queue: str | None = _DEFAULT
    ) -> None:
        types = endpoint.request if isinstance(endpoint, Endpoint) else endpoint.message
        object.__setattr__(self, "subject", endpoint.subject)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "handler", handler)
        object.__setattr__(self, "queue", endpoint.queue if queue is _DEFAULT else queue)


@dataclass(frozen=True, slots=True)
class Delivery(Generic[E]):
    """A decoded event of a durable consumer, with its delivery (``term`` / ``nak`` / ``seq``)."""

    msg: DurableMsg
    event: E


BatchHandler = Callable[[list[Delivery[Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DurableRoute:
    """A durable consumer run by the base: events of the stream, in stream order, in batches.

    Instances of a worker with the same ``consumer`` name share the work. Each
    message is decoded as the event of its subject; one that does not decode is
    terminated (logged, never redelivered) and the rest of the batch goes on.
    Messages of other subjects under the filter are acked unseen. The handler
    persists the batch; the base acks it afterwards (at least once: handlers
    store idempotently).
    """

    events: Sequence[Event[Any]]
    consumer: str
    handler: BatchHandler
    batch_size: int
    max_delay_s: float
    filter: str | None = None  # None: the one event's subject, or the whole stream for several

    @property
    def subject_filter(self) -> str | None:
        if self.filter is not None or len(self.events) != 1:
            return self.filter
        return self.events[0].subject
