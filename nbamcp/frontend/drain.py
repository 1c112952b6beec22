"""The front end's tool calls in flight, so that a stop lets them finish before the bus closes.

On SIGTERM the launcher closes the door (``drain``): calls already running go on (their bus,
their workers are still there), new ones are refused with ``unavailable: ... shutting down``
(a client retries them elsewhere or later), and only once the running ones have finished, or
``server.drain_s`` has passed, does the transport stop and the bus close. Before, the stop
closed the bus under running calls: they failed with ``bus_closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import structlog

from nbamcp.errors import Unavailable

log = structlog.get_logger(__name__)


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self.closing = False
        self.refused = 0  # calls turned away while draining
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the call for as long as it runs; refuse it once the front end is stopping."""
        if self.closing:
            self.refused += 1
            raise Unavailable("the server is shutting down: try the call again in a moment")
        self.count += 1
        self._idle.clear()
        log.debug("call.started", inflight=self.count)
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def drain(self, timeout_s: float) -> int:
        """Refuse new calls, wait for the running ones (at most ``timeout_s``); returns how many
        were still running when the wait ended."""
        self.closing = True
        log.info("serve.draining", inflight=self.count, timeout_s=timeout_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        log.info("serve.drained", still_running=self.count, refused=self.refused)
        return self.count
