"""A token bucket: ``capacity`` units, refilled continuously at ``rate`` units per second.

A call costing more than the whole bucket is admitted when the bucket is full
and leaves it in debt (negative), so a 500-game slate is possible and then
costs its caller the wait it deserves, instead of never being possible.
"""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate_per_s: float, capacity: float, clock: Callable[[], float]) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("a token bucket needs rate > 0 and capacity > 0")
        self.rate = rate_per_s
        self.capacity = float(capacity)
        self._clock = clock
        self._tokens = float(capacity)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        if now > self._at:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = max(self._at, now)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def retry_after(self, cost: float) -> float:
        """Seconds until ``cost`` could be taken (0: now). Takes nothing."""
        need = min(cost, self.capacity)
        have = self.tokens
        return 0.0 if have >= need else (need - have) / self.rate

    def take(self, cost: float) -> float:
        """Take ``cost`` and return 0, or take nothing and return the seconds to wait."""
        wait = self.retry_after(cost)
        if wait == 0.0:
            self._tokens -= cost
        return wait
