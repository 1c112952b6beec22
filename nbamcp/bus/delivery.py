"""Delivery machinery shared by both buses: subscription FIFOs, request deadlines.

Each subscription owns one :class:`Delivery`: a bounded FIFO and one task that
hands messages to the callback one at a time, in arrival order. It is what
gives both buses the same behaviour for the things NATS leaves to the client:

- a slow consumer (FIFO full) loses the new message and an error is logged,
  as nats-py does, instead of the bus buffering without bound;
- an exception raised by a callback is logged and the next message is
  delivered: one bad message never kills a subscription;
- ``stop`` (unsubscribe) drops what is queued but lets a running callback
  finish (it is never cancelled half-way); ``drain`` (close) delivers what is
  queued within a deadline, then cancels.

A deque plus a waiter future is used instead of ``asyncio.Queue``: same
semantics, less work per message on the in-memory hot path. For the same
reason request timeouts share timers (:class:`Deadlines`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from nbamcp.errors import BusTimeout

log = structlog.get_logger(__name__)

# Default bound of one subscription's FIFO (messages). nats-py's default is
# larger (512k) but a backlog that long means the consumer is broken anyway.
DEFAULT_PENDING_LIMIT = 65_536

# Longest request timeout accepted (a day): beyond it is a bug, not a wait.
MAX_TIMEOUT = 86_400.0

# How long a cancelled callback may take to stop before close() moves on.
_CANCEL_GRACE_S = 1.0

# After the first drop of a slow consumer, log again every this many drops.
_DROP_LOG_EVERY = 1000


class Delivery:
    """The FIFO and task that feed one subscription's callback."""

    __slots__ = (
        "_cb",
        "_items",
        "_limit",
        "_loop",
        "_open",
        "_task",
        "_waiter",
        "dropped",
        "queue",
        "subject",
    )

    def __init__(
        self,
        subject: str,
        queue: str | None,
        cb: Callable[[Any], Awaitable[None]],
        *,
        limit: int = DEFAULT_PENDING_LIMIT,
    ) -> None:
        if limit < 1:
            raise ValueError("pending limit must be >= 1")
        self.subject = subject
        self.queue = queue
        self.dropped = 0
        self._cb = cb
        self._limit = limit
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._open = True
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name=f"bus-sub:{subject}")

    @property
    def pending(self) -> int:
        """Messages queued and not yet handed to the callback."""
        return len(self._items)

    @property
    def active(self) -> bool:
        return self._open

    def put(self, msg: Any) -> None:
        """Queue ``msg`` (never blocks); drop it if the FIFO is full or closed."""
        if not self._open:
            return
        items = self._items
        if len(items) >= self._limit:
            self._drop(msg)
            return
        items.append(msg)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _drop(self, msg: Any) -> None:
        self.dropped += 1
        if self.dropped % _DROP_LOG_EVERY == 1:
            log.error(
                "bus.slow_consumer",
                subscription=self.subject,
                queue=self.queue,
                subject=getattr(msg, "subject", None),
                pending_limit=self._limit,
                dropped=self.dropped,
            )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _run(self) -> None:
        items = self._items
        cb = self._cb
        while True:
            while items:
                msg = items.popleft()
                try:
                    await cb(msg)
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # the subscription itself is being cancelled
                    # A callback that leaks a CancelledError of its own (an
                    # inner future it awaited was cancelled) is a failed
                    # message, not a reason to stop the subscription.
                    log.error("bus.callback_cancelled", subscription=self.subject, subject=msg.subject)
                except Exception:
                    # Subscription boundary: the callback's bug is logged, the
                    # next message is still delivered.
                    log.exception("bus.callback_failed", subscription=self.subject, subject=msg.subject)
            if not self._open:
                return
            waiter = self._loop.create_future()
            self._waiter = waiter
            await waiter

    def stop(self) -> None:
        """Stop delivering: queued messages are dropped, a running callback finishes."""
        self._open = False
        self._items.clear()
        self._wake()

    async def drain(self, deadline_s: float, *, caller: asyncio.Task[Any] | None = None) -> bool:
        """Take no more messages, deliver the queued ones within ``deadline_s``, then cancel.

        ``caller`` is the task that closes the bus (drains run in tasks of
        their own); if it is this subscription's task, there is nothing to
        wait for. Returns True if everything was delivered in time.
        """
        self._open = False
        self._wake()
        task = self._task
        if task is caller or task is asyncio.current_task() or task.done():
            # Called from this subscription's own callback: it ends by itself.
            return True
        done, _ = await asyncio.wait({task}, timeout=max(deadline_s, 0.0))
        if done:
            return True
        log.warning("bus.drain_cancelled", subscription=self.subject, dropped_pending=len(self._items))
        self._items.clear()
        await self._cancel_task()
        return False

    async def cancel(self) -> None:
        """Cancel the task now (used when the bus is torn down)."""
        self._open = False
        self._items.clear()
        if self._task is not asyncio.current_task():
            await self._cancel_task()

    async def _cancel_task(self) -> None:
        task = self._task
        if task.done():
            return
        task.cancel()
        # A callback that swallows the cancellation must not hang close().
        await asyncio.wait({task}, timeout=_CANCEL_GRACE_S)
        if not task.done():
            log.error("bus.callback_ignores_cancel", subscription=self.subject)


class Deadlines:
    """Request timeouts, grouped so that most requests share a timer.

    ``loop.call_later`` + ``cancel`` per request costs more than the rest of an
    in-process request/reply. Timeouts of ``COARSE_FROM`` seconds or more are
    rounded up to the next ``RESOLUTION`` tick and share one timer per tick
    (they fire at most ``RESOLUTION`` late); shorter ones get their own timer.
    An expired future gets a bare :class:`BusTimeout`; the requester re-raises
    it with the subject and timeout.

    ``add`` returns a handle whose ``discard(fut)`` disarms the timeout (for a
    shared tick it is the tick's ``set`` itself: a C call on the hot path).
    """

    RESOLUTION = 0.01
    COARSE_FROM = 0.1

    __slots__ = ("_buckets", "_hi", "_last", "_lo", "_loop", "_time")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # asyncio's own loops tell time with time.monotonic: calling it
        # directly saves a Python frame per request.
        self._time = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        self._buckets: dict[int, set[asyncio.Future[Any]]] = {}
        # The tick used last, as a (lo, hi] window of deadlines: a service
        # called with one timeout lands there, and skips the tick arithmetic.
        self._last: set[asyncio.Future[Any]] = set()
        self._lo = self._hi = 0.0

    def add(self, fut: asyncio.Future[Any], timeout: float) -> set[asyncio.Future[Any]] | _OwnTimer:
        """Arm a timeout for ``fut``; call ``discard(fut)`` on the result when done."""
        if timeout < 0.1:  # COARSE_FROM
            return _OwnTimer(self._loop.call_later(timeout, _expire, fut))
        deadline = self._time() + timeout
        if self._lo < deadline <= self._hi:
            bucket = self._last
        else:
            tick = int(deadline / self.RESOLUTION) + 1
            found = self._buckets.get(tick)
            if found is None:
                found = self._buckets[tick] = set()
                self._loop.call_at(tick * self.RESOLUTION, self._fire, tick)
            bucket = self._last = found
            self._lo, self._hi = (tick - 1) * self.RESOLUTION, tick * self.RESOLUTION
        bucket.add(fut)
        return bucket

    def _fire(self, tick: int) -> None:
        for fut in self._buckets.pop(tick, ()):
            _expire(fut)


class _OwnTimer:
    __slots__ = ("_handle",)

    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self._handle = handle

    def discard(self, fut: asyncio.Future[Any]) -> None:
        self._handle.cancel()


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(BusTimeout("request timed out"))
