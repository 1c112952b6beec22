"""Request-id memory: the same request id gets the same answer, and the work is done once.

A bounded map request id -> reply (oldest forgotten first). A duplicate that
arrives while the first is still being handled waits for the first's answer
instead of doing the work (and publishing the events) a second time. A request
id reused for a *different* request is refused: the answer would be wrong.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from nbamcp.errors import InvalidInput

R = TypeVar("R")


class IdempotencyMap(Generic[R]):
    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._done: OrderedDict[str, tuple[bytes, R]] = OrderedDict()
        self._running: dict[str, tuple[bytes, asyncio.Future[R]]] = {}
        self.replays = 0

    def __len__(self) -> int:
        return len(self._done)

    async def run(self, request_id: str, fingerprint: bytes, work: Callable[[], Awaitable[R]]) -> R:
        """The remembered reply for ``request_id``, else ``await work()`` (remembered on success)."""
        done = self._done.get(request_id)
        if done is not None:
            self._check(request_id, done[0], fingerprint)
            self._done.move_to_end(request_id)
            self.replays += 1
            return done[1]
        running = self._running.get(request_id)
        if running is not None:
            self._check(request_id, running[0], fingerprint)
            self.replays += 1
            return await asyncio.shield(running[1])
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._running[request_id] = (fingerprint, fut)
        try:
            reply = await work()
        except BaseException as exc:
            # Errors are not remembered: a retry may succeed.
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._running[request_id]
        fut.set_result(reply)
        self._done[request_id] = (fingerprint, reply)
        while len(self._done) > self.max_entries:
            self._done.popitem(last=False)
        return reply

    @staticmethod
    def _check(request_id: str, seen: bytes, fingerprint: bytes) -> None:
        if seen != fingerprint:
            raise InvalidInput(
                f"request id {request_id} was already used for a different request; "
                "use a new request id for a new request"
            )
