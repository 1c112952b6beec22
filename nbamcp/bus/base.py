"""The bus seam: NATS-core semantics behind one Protocol.

``InMemoryBus`` (one process, nothing to install) and ``NatsBus`` (NATS +
JetStream) both implement :class:`Bus` and pass one contract test suite
(``tests/bus/test_contract.py``). Actors and the front end only ever see this
Protocol, so the same code runs in one process or many.

Semantics, as in NATS core:

- ``publish`` is fire-and-forget; a message with no subscriber vanishes.
- ``subscribe`` with a ``queue`` group delivers each message to exactly one
  member of the group; plain subscribers each get every message.
- Subjects are dot-separated tokens; a subscription may use ``*`` (one token)
  and ``>`` (one or more trailing tokens). Publish subjects have no wildcards.
- ``request`` publishes with a fresh reply inbox and waits for the first reply;
  it fails fast with ``NoResponders`` when nobody subscribes, and with
  ``BusTimeout`` when nobody answers in time.
- Messages from one publisher to one subscriber arrive in order; one
  subscription's callback is called for one message at a time (an actor that
  wants concurrency spawns tasks itself, bounded by its own limit).
- ``close`` drains: subscriptions stop taking messages, callbacks already
  running finish, then pending requests fail with ``BusClosed``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from nbamcp.bus.link import Link

# Header names carried on every message an actor handles.
REQUEST_ID_HEADER = "Nbamcp-Request-Id"
TRACEPARENT_HEADER = "traceparent"
# The tenant whose request this is (API key auth on HTTP/SSE): logged and put in the prediction log.
TENANT_HEADER = "Nbamcp-Tenant"

# NATS' default max_payload; the in-memory bus enforces the same limit so a
# message that works in one process also works across processes.
DEFAULT_MAX_PAYLOAD = 1024 * 1024


@dataclass(slots=True)
class Msg:
    """A received message. ``respond`` answers a request (``reply`` set)."""

    subject: str
    data: bytes
    reply: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    _responder: Callable[[str, bytes, Mapping[str, str] | None], Awaitable[None]] | None = None

    async def respond(self, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Publish ``data`` to this message's reply subject."""
        if not self.reply or self._responder is None:
            # Imported on this error path only: respond() runs for every reply.
            from nbamcp.errors import BusError

            raise BusError(f"message on {self.subject!r} has no reply subject to respond to")
        await self._responder(self.reply, data, headers)


Handler = Callable[[Msg], Awaitable[None]]


@runtime_checkable
class Subscription(Protocol):
    subject: str
    queue: str | None

    async def unsubscribe(self) -> None:
        """Stop delivery; messages not yet handed to the callback are dropped."""
        ...


@runtime_checkable
class Bus(Protocol):
    """What actors and the front end may do with the bus."""

    @property
    def kind(self) -> str:
        """``"memory"`` or ``"nats"``: reported by ``health``."""
        ...

    @property
    def max_payload(self) -> int: ...

    # The link's state and its recovery hooks (``nbamcp.bus.link``): always up in process.
    link: Link

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        reply: str | None = None,
    ) -> None: ...

    async def request(
        self,
        subject: str,
        data: bytes,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> Msg: ...

    async def subscribe(
        self,
        subject: str,
        cb: Handler,
        *,
        queue: str | None = None,
    ) -> Subscription: ...

    def new_inbox(self) -> str:
        """A unique subject to receive replies on (scatter-gather)."""
        ...

    async def flush(self, timeout: float = 5.0) -> None:
        """Return once everything published so far has reached the server."""
        ...

    async def close(self) -> None:
        """Drain and close; idempotent."""
        ...
