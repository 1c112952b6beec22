"""The consume loop of a durable consumer: fill a batch, persist it, then ack it.

A batch closes when it holds ``batch_size`` messages or when its first message
has waited ``max_delay_s``. The handler persists the batch (and ``term``s the
messages it cannot use: those never come back); only then is the batch acked,
so a process killed in between gets the same messages again. A handler that
fails (disk full, locked database) gets its batch back after a back-off; each
message is delivered at most ``max_deliver`` times, so nothing loops forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from nbamcp.bus.durable import DurableConsumer, DurableMsg
from nbamcp.errors import BusError

log = structlog.get_logger(__name__)

Handler = Callable[[list[DurableMsg]], Awaitable[None]]

# While nothing is buffered, a fetch waits this long for the first message: it
# bounds how long a stop waits for an idle loop.
IDLE_FETCH_S = 0.5
MAX_BACKOFF_S = 30.0


class BatchLoop:
    """Runs ``handler`` over batches from ``consumer`` until :meth:`stop`."""

    def __init__(
        self,
        consumer: DurableConsumer,
        handler: Handler,
        *,
        batch_size: int,
        max_delay_s: float,
        name: str,
    ) -> None:
        self.consumer = consumer
        self._handler = handler
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        self.name = name
        self._stopping = False
        self._stopped: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._backoff = 0.0
        self._wake = asyncio.Event()
        self._progress: asyncio.Future[None] | None = None
        self.batches = 0
        self.last_seq = 0

    def start(self) -> asyncio.Task[None]:
        self._stopped = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-batch-loop")
        return self._task

    def request_stop(self) -> None:
        """Stop fetching; the batch in hand is still persisted and acked (await ``task``)."""
        self._stopping = True
        if self._stopped is not None:
            self._stopped.set()

    def wake(self) -> None:
        """The bus is back: end a back-off now and start the next one short (an outage's
        failed acks and fetches must not keep the consumer waiting up to MAX_BACKOFF_S after it)."""
        self._backoff = 0.0
        self._wake.set()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait_progress(self, timeout: float, *, after: int | None = None) -> None:
        """Return after the next batch has been handled and acked (or after ``timeout``).

        ``after``: return at once if more than that many batches (``batches``) are done already.
        Read ``batches`` before checking what a batch would change, and pass it: a batch handled
        between the check and this call is then not waited for again (that lost wake-up made a
        test wait its whole deadline for a batch that had come and gone).
        """
        if after is not None and self.batches > after:
            return
        if self._progress is None or self._progress.done():
            self._progress = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._progress)

    async def _fetch(self, max_msgs: int, timeout: float) -> list[DurableMsg]:
        """A fetch that a stop cuts short (what it was receiving is delivered again later)."""
        assert self._stopped is not None
        fetch = asyncio.ensure_future(self.consumer.fetch(max_msgs, timeout))
        stop = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not fetch.done():
                fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            return list(await fetch)
        return []

    async def _run(self) -> None:
        while not self._stopping:
            try:
                batch = await self._fill()
                if batch:
                    await self._process(batch)
            except asyncio.CancelledError:
                raise
            except BusError as exc:
                # The bus went away for a moment (NATS reconnecting): back off, try again.
                await self._back_off("batch_loop.bus_error", error=exc.message)
            except Exception:
                # Loop boundary: a bug must not end the consumer; the batch comes back later.
                log.exception("batch_loop.crashed", loop=self.name)
                await self._back_off("batch_loop.retry")

    async def _fill(self) -> list[DurableMsg]:
        batch: list[DurableMsg] = []
        first_at = 0.0
        while len(batch) < self.batch_size and not self._stopping:
            if batch:
                timeout = first_at + self.max_delay_s - time.monotonic()
                if timeout <= 0:
                    break
            else:
                timeout = max(IDLE_FETCH_S, self.max_delay_s)
            msgs = await self._fetch(self.batch_size - len(batch), timeout)
            if not msgs:
                if batch:
                    break
                continue
            if not batch:
                first_at = time.monotonic()
            batch += msgs
        return batch

    async def _process(self, batch: list[DurableMsg]) -> None:
        try:
            await self._handler(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("batch_loop.handler_failed", loop=self.name, messages=len(batch))
            for m in batch:
                with contextlib.suppress(Exception):
                    await m.nak(self._next_backoff())
            await self._back_off("batch_loop.batch_returned", error=str(exc))
            return
        await self.consumer.ack_all(batch)
        self._backoff = 0.0
        self.batches += 1
        self.last_seq = max(self.last_seq, max(m.seq for m in batch))
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)

    def _next_backoff(self) -> float:
        return min(max(self._backoff * 2, 0.5), MAX_BACKOFF_S)

    async def _back_off(self, event: str, **kw: object) -> None:
        self._backoff = self._next_backoff()
        log.warning(event, loop=self.name, retry_in_s=self._backoff, **kw)
        # A real pause on purpose (cut short by stop): retrying a failing disk or bus at once only spins.
        assert self._stopped is not None
        self._wake.clear()
        stop, wake = asyncio.ensure_future(self._stopped.wait()), asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=self._backoff, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()
