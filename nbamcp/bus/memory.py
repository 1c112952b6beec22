"""The in-process bus: NATS-core semantics with nothing to install.

``nbamcp serve`` runs the front end and every worker as tasks of one process
on one ``InMemoryBus``; the same actors run unchanged on :class:`NatsBus`.
The contract both honour is in ``nbamcp.bus.base`` and is tested by
``tests/bus/test_contract.py``.

How it stays close to a bare ``asyncio`` request/reply:

- routing is cached per subject (subscribers + queue groups), rebuilt only
  when a subscription comes or goes; validation happens on a cache miss;
- a request registers a future under its reply subject; a reply published to
  that subject resolves the future directly, without a subscription;
- request timeouts share one timer per 10 ms tick (``Deadlines``), not a
  ``wait_for`` or ``call_later`` each;
- ``Msg.respond`` to an in-process request is a plain call that resolves the
  requester's future (no routing, no extra coroutine);
- messages are not copied: subscribers share one ``Msg`` per publish (treat
  it as read-only) and the data ``bytes``.

Replies to a request's own inbox go only to that request (they are not routed
to wildcard subscribers of ``_INBOX.>``); everything else is routed as NATS
routes it: every plain subscriber, one random member of each queue group.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Generator, Mapping
from random import random
from typing import Any

import structlog

from nbamcp.bus.base import DEFAULT_MAX_PAYLOAD, Handler, Msg
from nbamcp.bus.delivery import DEFAULT_PENDING_LIMIT, MAX_TIMEOUT, Deadlines, Delivery
from nbamcp.bus.link import Link
from nbamcp.bus.subjects import (
    as_bytes,
    check_headers,
    check_publish_subject,
    check_queue,
    check_subscribe_subject,
    has_wildcard,
    matches,
    too_large,
)
from nbamcp.errors import BusClosed, BusError, BusTimeout, NoResponders

log = structlog.get_logger(__name__)

# Routes are cached per published subject; unique subjects (scatter-gather
# inboxes) would grow the cache forever, so it is reset past this size.
_ROUTE_CACHE_MAX = 8192

_OPEN, _DRAINING, _CLOSED = 0, 1, 2

# (plain subscribers, queue groups): every plain one gets the message, one
# member of each group gets it.
Route = tuple[tuple[Delivery, ...], tuple[tuple[Delivery, ...], ...]]


class _Done:
    """An awaitable that is already complete (``await _DONE`` returns None at once)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return iter(())  # type: ignore[return-value]


_DONE = _Done()


class MemorySubscription:
    """A subscription on an :class:`InMemoryBus`."""

    __slots__ = ("_bus", "_delivery", "queue", "subject")

    def __init__(self, bus: InMemoryBus, delivery: Delivery) -> None:
        self.subject = delivery.subject
        self.queue = delivery.queue
        self._bus = bus
        self._delivery = delivery

    @property
    def pending(self) -> int:
        return self._delivery.pending

    @property
    def dropped(self) -> int:
        """Messages lost because the callback fell behind (slow consumer)."""
        return self._delivery.dropped

    async def unsubscribe(self) -> None:
        """Stop delivery; queued messages are dropped, a running callback finishes. Idempotent."""
        if self._delivery.active:
            self._bus._remove(self)
            self._delivery.stop()


class InMemoryBus:
    """One process, NATS-core semantics. Share ONE instance between the actors of a process."""

    def __init__(
        self,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        pending_limit: int = DEFAULT_PENDING_LIMIT,
        drain_timeout: float = 5.0,
    ) -> None:
        if max_payload < 1:
            raise ValueError("max_payload must be >= 1")
        self._max_payload = max_payload
        self._pending_limit = pending_limit
        self._drain_timeout = drain_timeout
        self._exact: dict[str, list[MemorySubscription]] = {}
        self._wild: list[MemorySubscription] = []
        self._routes: dict[str, Route] = {}
        self._replies: dict[str, asyncio.Future[Msg]] = {}
        self._inbox = f"_INBOX.{secrets.token_hex(10)}."
        self._seq = itertools.count(1)
        self._state = _OPEN
        self._close_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: Deadlines
        self.link = Link()  # always connected: nothing to reconnect to

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Bound on first use, not in __init__: the bus may be built before the loop runs.
        self._loop = loop = asyncio.get_running_loop()
        self._deadlines = Deadlines(loop)
        return loop

    @property
    def kind(self) -> str:
        return "memory"

    @property
    def max_payload(self) -> int:
        return self._max_payload

    @property
    def is_closed(self) -> bool:
        return self._state == _CLOSED

    # ---- routing ---------------------------------------------------------
    def _route(self, subject: str) -> Route:
        check_publish_subject(subject)
        subs = [*self._exact.get(subject, ()), *(s for s in self._wild if matches(s.subject, subject))]
        plain = tuple(s._delivery for s in subs if s.queue is None)
        groups: dict[str, list[Delivery]] = {}
        for s in subs:
            if s.queue is not None:
                groups.setdefault(s.queue, []).append(s._delivery)
        route: Route = (plain, tuple(tuple(members) for members in groups.values()))
        if len(self._routes) >= _ROUTE_CACHE_MAX:
            self._routes.clear()
        self._routes[subject] = route
        return route

    def _remove(self, sub: MemorySubscription) -> None:
        bucket = self._wild if has_wildcard(sub.subject) else self._exact.get(sub.subject)
        if bucket is not None and sub in bucket:
            bucket.remove(sub)
            if not bucket and bucket is not self._wild:
                del self._exact[sub.subject]
        self._routes.clear()

    @staticmethod
    def _deliver(route: Route, msg: Msg) -> None:
        plain, groups = route
        for d in plain:
            d.put(msg)
        for members in groups:
            n = len(members)
            (members[0] if n == 1 else members[int(random() * n)]).put(msg)

    # ---- the Bus protocol ------------------------------------------------
    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        reply: str | None = None,
    ) -> None:
        if self._state == _CLOSED:
            raise BusClosed(f"the bus is closed: cannot publish to {subject!r}")
        if data.__class__ is not bytes:
            data = as_bytes(data)
        if headers:
            hdrs = check_headers(subject, len(data), headers, self._max_payload)
        else:
            hdrs = {}
            if len(data) > self._max_payload:
                raise too_large(subject, len(data), self._max_payload)
        fut = self._replies.pop(subject, None)
        if fut is not None:
            # A reply to one of our pending requests.
            if not fut.done():
                fut.set_result(Msg(subject, data, None, hdrs, None))
            return
        route = self._routes.get(subject) or self._route(subject)
        if reply is not None:
            check_publish_subject(reply)
        self._deliver(route, Msg(subject, data, reply, hdrs, self._respond))

    def _respond(self, reply: str, data: bytes, headers: Mapping[str, str] | None) -> Awaitable[None]:
        # Msg.respond lands here. The usual case, a reply to a pending request
        # of this bus, resolves the requester's future right away; this is a
        # plain function returning an awaitable so that it costs no coroutine.
        fut = self._replies.get(reply)
        if fut is None or self._state == _CLOSED or data.__class__ is not bytes:
            return self.publish(reply, data, headers=headers)
        if headers:
            hdrs = check_headers(reply, len(data), headers, self._max_payload)
        else:
            hdrs = {}
            if len(data) > self._max_payload:
                raise too_large(reply, len(data), self._max_payload)
        # The requester removes its entry when it wakes; a second reply finds
        # the future done and is dropped, as NATS drops it.
        if not fut.done():
            fut.set_result(Msg(reply, data, None, hdrs, None))
        return _DONE

    async def request(
        self,
        subject: str,
        data: bytes,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> Msg:
        if self._state != _OPEN:
            raise BusClosed(f"the bus is closed: cannot send a request to {subject!r}")
        loop = self._loop or self._bind_loop()
        if not 0 < timeout <= MAX_TIMEOUT:
            raise BusError(f"request timeout must be > 0 and <= {MAX_TIMEOUT:g} seconds, got {timeout!r}")
        if data.__class__ is not bytes:
            data = as_bytes(data)
        if headers:
            hdrs = check_headers(subject, len(data), headers, self._max_payload)
        else:
            hdrs = {}
            if len(data) > self._max_payload:
                raise too_large(subject, len(data), self._max_payload)
        route = self._routes.get(subject) or self._route(subject)
        if not route[0] and not route[1]:
            raise NoResponders(f"no responders on {subject!r}: nothing subscribes to it")
        reply = f"{self._inbox}{next(self._seq)}"
        fut: asyncio.Future[Msg] = loop.create_future()
        self._replies[reply] = fut
        msg = Msg(subject, data, reply, hdrs, self._respond)
        plain, groups = route
        if not plain and len(groups) == 1:  # one queue group: the usual service
            members = groups[0]
            n = len(members)
            (members[0] if n == 1 else members[int(random() * n)]).put(msg)
        else:
            self._deliver(route, msg)
        armed = self._deadlines.add(fut, timeout)
        try:
            return await fut
        except BusTimeout:
            raise BusTimeout(f"no reply on {subject!r} within {timeout:g}s") from None
        finally:
            armed.discard(fut)
            self._replies.pop(reply, None)

    async def subscribe(self, subject: str, cb: Handler, *, queue: str | None = None) -> MemorySubscription:
        check_subscribe_subject(subject)
        check_queue(queue)
        if self._state != _OPEN:
            raise BusClosed(f"the bus is closed: cannot subscribe to {subject!r}")
        sub = MemorySubscription(self, Delivery(subject, queue, cb, limit=self._pending_limit))
        if has_wildcard(subject):
            self._wild.append(sub)
        else:
            self._exact.setdefault(subject, []).append(sub)
        self._routes.clear()
        return sub

    def new_inbox(self) -> str:
        return f"{self._inbox}{next(self._seq)}"

    async def flush(self, timeout: float = 5.0) -> None:
        # Publishing hands messages to the subscribers' queues synchronously:
        # there is nothing in flight to wait for.
        if self._state == _CLOSED:
            raise BusClosed("the bus is closed: cannot flush")

    async def close(self) -> None:
        """Drain: stop routing, let callbacks finish queued work, fail pending requests. Idempotent."""
        if self._close_task is None:
            self._state = max(self._state, _DRAINING)  # no new requests from now on
            self._close_task = asyncio.get_running_loop().create_task(
                self._close(asyncio.current_task()), name="bus-close"
            )
        # Shielded: a caller that stops waiting (its own timeout) does not
        # leave the bus half closed; the next close() waits for the same work.
        await asyncio.shield(self._close_task)

    async def _close(self, caller: asyncio.Task[Any] | None) -> None:
        subs = [*self._wild, *(s for bucket in self._exact.values() for s in bucket)]
        self._wild.clear()
        self._exact.clear()
        self._routes.clear()
        # Callbacks still running may publish (reply to pending requests):
        # publish keeps working until the state is _CLOSED.
        results = await asyncio.gather(*(s._delivery.drain(self._drain_timeout, caller=caller) for s in subs))
        pending = [f for f in self._replies.values() if not f.done()]
        for fut in pending:
            fut.set_exception(BusClosed("the bus was closed before a reply arrived"))
        self._replies.clear()
        self._state = _CLOSED
        log.info(
            "bus.closed",
            kind="memory",
            subscriptions=len(subs),
            cancelled=results.count(False),
            failed_requests=len(pending),
        )
