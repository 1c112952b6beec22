"""Stats answers kept per version of the data: asking the same question again is a look-up.

A stats answer depends only on the question and the data, so it is kept under
(the question's subject, its request encoded) for one store generation; an ingest
that changes the data bumps the generation (``Store.bump``) and the first question
after it starts afresh. Bounded twice, least recently used out first: by entries
and by bytes (a career is ~10 KB, a rating history with its chart ~12 KB), each
answer weighed by its msgpack size. Errors are not kept: they are cheap to
recompute, and a retry after an ingest may succeed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

A = TypeVar("A")
_encoder = msgspec.msgpack.Encoder()


class AnswerCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        if max_entries < 0 or max_bytes < 0:
            raise ValueError("max_entries and max_bytes must be >= 0 (0 turns the cache off)")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._generation: int | None = None
        self._data: OrderedDict[bytes, tuple[msgspec.Struct, int]] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = self.evicted = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def _current(self, generation: int) -> bool:
        """Move to ``generation`` when it is newer; False for an older one (its answers are stale)."""
        if self._generation is None or generation > self._generation:
            self._data.clear()
            self.bytes = 0
            self._generation = generation
        return generation == self._generation

    def get(self, generation: int, key: bytes) -> msgspec.Struct | None:
        if not self._current(generation):
            return None
        item = self._data.get(key)
        if item is None:
            return None
        self._data.move_to_end(key)
        return item[0]

    def put(self, generation: int, key: bytes, answer: msgspec.Struct) -> None:
        """Keep ``answer``, computed from the data of ``generation`` (dropped if that is not the latest)."""
        if not self.enabled or not self._current(generation):
            return
        size = len(key) + len(_encoder.encode(answer))
        if size > self.max_bytes:
            return
        old = self._data.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._data[key] = (answer, size)
        self.bytes += size
        while len(self._data) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, dropped) = self._data.popitem(last=False)
            self.bytes -= dropped
            self.evicted += 1

    async def answer(
        self, generation: Callable[[], int], key: bytes, compute: Callable[[], Awaitable[A]]
    ) -> A:
        """The kept answer to ``key`` for the data now, else ``await compute()`` (then kept).

        ``generation`` is read before and after computing: an answer computed while an
        ingest changed the data is returned but not kept.
        """
        before = generation()
        kept = self.get(before, key) if self.enabled else None
        if kept is not None:
            self.hits += 1
            return kept  # type: ignore[return-value]  # kept under the key its compute() answered
        self.misses += 1
        answer = await compute()
        if isinstance(answer, msgspec.Struct) and generation() == before:
            self.put(before, key, answer)
        return answer

    def stats(self) -> dict[str, str]:
        return {
            "answers_kept": str(len(self._data)),
            "answers_bytes": str(self.bytes),
            "answer_hits": str(self.hits),
            "answer_misses": str(self.misses),
            "answers_evicted": str(self.evicted),
        }
