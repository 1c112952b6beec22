"""An LRU map whose entries also expire after a TTL, with an index by team.

The prediction cache keeps one per worker instance. ``clock`` is injectable
(tests move time, never sleep). Entries are tagged with the teams they
concern so that new results for a team drop exactly that team's entries.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlLru(Generic[V]):
    def __init__(
        self, max_entries: int, ttl_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, tuple[str, ...], V]] = OrderedDict()
        self._by_team: dict[str, set[str]] = {}
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> V | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, _, value = item
        if self._clock() >= expires:
            self._drop(key)
            self.expired += 1
            return None
        self._data.move_to_end(key)
        return value

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` holds a live entry (recency untouched)."""
        item = self._data.get(key)  # type: ignore[call-overload]
        return item is not None and self._clock() < item[0]

    def put(self, key: str, value: V, teams: Iterable[str] = (), *, ttl_s: float | None = None) -> None:
        """Store ``value`` for ``ttl_s`` (default: the cache's TTL)."""
        if key in self._data:
            self._drop(key)
        tags = tuple(teams)
        self._data[key] = (self._clock() + (self.ttl_s if ttl_s is None else ttl_s), tags, value)
        for t in tags:
            self._by_team.setdefault(t, set()).add(key)
        while len(self._data) > self.max_entries:
            oldest = next(iter(self._data))
            self._drop(oldest)
            self.evicted += 1

    def drop(self, key: str) -> bool:
        if key not in self._data:
            return False
        self._drop(key)
        return True

    def drop_teams(self, teams: Iterable[str]) -> int:
        """Remove every entry tagged with one of ``teams``; return how many went."""
        keys = set().union(*(self._by_team.get(t, set()) for t in teams))
        for key in keys:
            self._drop(key)
        return len(keys)

    def clear(self) -> int:
        n = len(self._data)
        self._data.clear()
        self._by_team.clear()
        return n

    def _drop(self, key: str) -> None:
        _, tags, _ = self._data.pop(key)
        for t in tags:
            keys = self._by_team.get(t)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_team[t]
