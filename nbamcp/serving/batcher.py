"""Dynamic micro-batching: concurrent requests share one model call.

``submit(items)`` queues a request's rows and waits for their results. A batch
goes out when the queued rows reach ``max_batch``, when it holds ``max_requests``
requests (all the worker admits at once: waiting could not grow it), when
``max_wait_s`` has passed since its first request, or as soon as the event loop
has no other work ready: an idle worker answers at once, a busy one batches what
arrives while the loop runs the rest of its work.

Why "no other work ready" and not "a turn added no request": over stdio the
requests reach the batcher one every few turns, not one per turn. The SDK hands
each message through zero-buffer streams (our reader, its relay, its dispatcher;
every send and receive yields once) and a prediction crosses the bus twice
before it gets here, so a turn without a new request said nothing about the
requests still on their way, and each flush held one row. While anything else is
ready to run (those requests' next steps among it), a request waits; it costs no
CPU (the loop is busy anyway) and at most ``max_wait_s`` of latency. The check
reads the ready queue of asyncio's own loops (``BaseEventLoop._ready``, a CPython
detail); on a loop without one the old rule (a turn that adds no request) serves.

``run`` is a plain function (the onnxruntime call takes microseconds, less than a
thread hop would); it gets at most ``max_batch`` rows per call, so a large slate
is scored in several calls of the same flush.
"""

from __future__ import annotations

import asyncio
import collections
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# The ticks of every batcher scheduled on a loop and not run yet: one batcher's tick must not
# take another's for work (two batchers would each wait for the other until max_wait_s).
_TICKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


def other_work_ready(loop: asyncio.AbstractEventLoop) -> bool | None:
    """Whether ``loop`` has callbacks ready to run besides the batchers' ticks; None when it cannot
    tell (a loop that is not asyncio's own: no ready queue to read)."""
    ready = getattr(loop, "_ready", None)
    if not isinstance(ready, collections.deque):
        return None
    return len(ready) > _TICKS.get(loop, 0)


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        *,
        max_batch: int,
        max_wait_s: float,
        max_requests: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_batch < 1 or (max_requests is not None and max_requests < 1):
            raise ValueError("max_batch and max_requests must be >= 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self._run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_requests = max_requests
        self._clock = clock
        self._pending: list[tuple[Sequence[T], asyncio.Future[list[R]]]] = []
        self._rows = 0
        self._first_at = 0.0
        self._seen = 0  # requests queued at the last turn of the loop
        self._scheduled = False
        # Counters (health detail, tests).
        self.batches = 0  # flushes
        self.calls = 0  # calls of ``run``
        self.rows = 0
        self.requests = 0
        self.max_requests_in_batch = 0
        self.max_rows_in_batch = 0
        self.timeouts = 0  # flushes at max_wait_s, with other work still ready

    async def submit(self, items: Sequence[T]) -> list[R]:
        """Results for ``items``, in order, computed in a batch with whatever else is queued."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[R]] = loop.create_future()
        if not self._pending:
            self._first_at = self._clock()
        self._pending.append((items, fut))
        self._rows += len(items)
        if self._rows >= self.max_batch or len(self._pending) == self.max_requests:
            self._flush()
        elif not self._scheduled:
            self._schedule(loop)
        return await fut

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = True
        self._seen = len(self._pending)
        _TICKS[loop] = _TICKS.get(loop, 0) + 1
        loop.call_soon(self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        _TICKS[loop] -= 1
        if not self._pending:
            return
        busy = other_work_ready(loop)
        if busy is None:  # no ready queue to read: wait while the last turn brought a request
            busy = len(self._pending) > self._seen
        if busy:
            if self._clock() - self._first_at < self.max_wait_s:
                # call_soon queues the tick behind everything ready now: it runs once they have.
                self._schedule(loop)
                return
            self.timeouts += 1
        self._flush()

    def _flush(self) -> None:
        pending, self._pending, self._rows = self._pending, [], 0
        if not pending:
            return
        items: list[T] = [item for chunk, _ in pending for item in chunk]
        self.batches += 1
        self.requests += len(pending)
        self.rows += len(items)
        self.max_requests_in_batch = max(self.max_requests_in_batch, len(pending))
        self.max_rows_in_batch = max(self.max_rows_in_batch, len(items))
        try:
            results: list[R] = []
            for start in range(0, len(items), self.max_batch):
                self.calls += 1
                out = self._run(items[start : start + self.max_batch])
                if len(out) != min(self.max_batch, len(items) - start):
                    raise RuntimeError(f"batch function returned {len(out)} results for a chunk")
                results.extend(out)
        except Exception as exc:  # boundary: one bad batch fails its requests, not the worker
            log.exception("batch.failed", rows=len(items), requests=len(pending))
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            return
        pos = 0
        for chunk, fut in pending:
            n = len(chunk)
            if not fut.done():  # the requester may have been cancelled
                fut.set_result(results[pos : pos + n])
            pos += n

    def stats(self) -> dict[str, str]:
        mean = self.rows / self.batches if self.batches else 0.0
        return {
            "batches": str(self.batches),
            "batch_rows": str(self.rows),
            "batch_requests": str(self.requests),
            "mean_batch_rows": f"{mean:.2f}",
            "max_batch_requests": str(self.max_requests_in_batch),
            "max_batch_rows": str(self.max_rows_in_batch),
            "batch_timeouts": str(self.timeouts),
        }
