"""Request-id memory: the same request id gets the same answer, and the work is done once.

A map request id -> (digest of the request, the reply as msgpack bytes), bounded
twice, oldest forgotten first: by entries and by bytes. A 500-game reply is
~0.5 MB encoded (several times that as Python objects), so a count alone lets
the map grow to gigabytes; the byte budget keeps the recent replies (a retry
comes within seconds) and, past it, drops the oldest replies. A request id
whose reply was dropped keeps its digest (tens of bytes) while within
``max_entries``: a duplicate of it is still checked against the request it came
with, then done again (the prediction log's key, request id + model version +
game, keeps one row of a redone slate). A reply larger than the whole budget is
never kept.

A duplicate that arrives while the first is still being handled waits for the
first's answer instead of doing the work (and publishing the events) a second
time. A request id reused for a *different* request is refused: the answer
would be wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import msgspec

from nbamcp.errors import InvalidInput

R = TypeVar("R")

# What one remembered id costs besides its reply: the key, the digest and the
# OrderedDicts' links (measured ~270 bytes with a 36-character id; rounded up).
ENTRY_OVERHEAD = 300
_encoder = msgspec.msgpack.Encoder()


def digest(fingerprint: bytes) -> bytes:
    return hashlib.blake2b(fingerprint, digest_size=16).digest()


class IdempotencyMap(Generic[R]):
    def __init__(self, reply_type: type[R], *, max_entries: int, max_bytes: int) -> None:
        if max_entries < 1 or max_bytes < 0:
            raise ValueError("max_entries must be >= 1 and max_bytes >= 0")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._decoder = msgspec.msgpack.Decoder(reply_type)
        self._done: OrderedDict[str, bytes] = OrderedDict()  # request id -> digest of its request
        self._replies: OrderedDict[str, bytes] = OrderedDict()  # request id -> reply (msgpack), a subset
        self._running: dict[str, tuple[bytes, asyncio.Future[R]]] = {}
        self.bytes = 0  # what the remembered ids and replies weigh (ENTRY_OVERHEAD + reply each)
        self.replays = 0
        self.redone = 0  # duplicates whose reply had been dropped for the budget

    def __len__(self) -> int:
        return len(self._done)

    @property
    def replies(self) -> int:
        """Ids whose reply is still kept (the others keep their digest only)."""
        return len(self._replies)

    async def run(self, request_id: str, fingerprint: bytes, work: Callable[[], Awaitable[R]]) -> R:
        """The remembered reply for ``request_id``, else ``await work()`` (remembered on success)."""
        key = digest(fingerprint)
        seen = self._done.get(request_id)
        if seen is not None:
            self._check(request_id, seen, key)
            reply = self._replies.get(request_id)
            if reply is not None:
                self._done.move_to_end(request_id)
                self._replies.move_to_end(request_id)
                self.replays += 1
                return self._decoder.decode(reply)
            self.redone += 1
            self._forget(request_id)
        running = self._running.get(request_id)
        if running is not None:
            self._check(request_id, running[0], key)
            self.replays += 1
            return await asyncio.shield(running[1])
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._running[request_id] = (key, fut)
        try:
            result = await work()
        except BaseException as exc:
            # Errors are not remembered: a retry may succeed.
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._running[request_id]
        fut.set_result(result)
        self._remember(request_id, key, result)
        return result

    def _remember(self, request_id: str, key: bytes, result: R) -> None:
        self._done[request_id] = key
        self.bytes += ENTRY_OVERHEAD
        encoded = _encoder.encode(result)
        if ENTRY_OVERHEAD + len(encoded) <= self.max_bytes:  # else larger than the whole budget
            self._replies[request_id] = encoded
            self.bytes += len(encoded)
        while len(self._done) > self.max_entries:
            self._forget(next(iter(self._done)))
        # Oldest first: their replies go, their digests stay (until max_entries pushes them out).
        while self._replies and self.bytes > self.max_bytes:
            _, dropped = self._replies.popitem(last=False)
            self.bytes -= len(dropped)
        while self._done and self.bytes > self.max_bytes:  # a budget too small for the digests
            self._forget(next(iter(self._done)))

    def _forget(self, request_id: str) -> None:
        del self._done[request_id]
        reply = self._replies.pop(request_id, None)
        self.bytes -= ENTRY_OVERHEAD + (len(reply) if reply is not None else 0)

    @staticmethod
    def _check(request_id: str, seen: bytes, key: bytes) -> None:
        if seen != key:
            raise InvalidInput(
                f"request id {request_id} was already used for a different request; "
                "use a new request id for a new request"
            )
