"""A circuit breaker: stop calling a dependency that keeps failing, try again after a cooldown.

States, as usual: *closed* (calls go through; ``failure_threshold`` failures
in a row open it), *open* (calls are refused at once until ``cooldown_s``
has passed), *half-open* (one trial call goes through: success closes the
breaker, failure opens it for another cooldown). The clock is injectable so
that tests move time instead of sleeping.

The cooldown adapts: it starts at ``min_cooldown_s`` and doubles each time a
trial fails, up to ``cooldown_s``; a success brings it back down. A short outage
(NATS restarting, a worker replaced) is then not stretched by a long fixed
cooldown, and a dependency that stays down is still tried only now and then.
``reset`` closes the breaker at once: for news that the dependency is back
(the bus reconnected). A trial that failed at once because nothing listens
(``grow=False``: "no responders", the worker is restarting) does not lengthen
the open time: such a trial costs nothing, and a longer wait would only delay
the moment the restarted worker is used again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        cooldown_s: float = 15.0,
        min_cooldown_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if cooldown_s < 0:
            raise ValueError("cooldown_s must be >= 0")
        low = cooldown_s if min_cooldown_s is None else min_cooldown_s
        if not 0 <= low <= cooldown_s:
            raise ValueError("min_cooldown_s must be between 0 and cooldown_s")
        self.name = name
        self.failure_threshold = failure_threshold
        self.max_cooldown_s = cooldown_s
        self.min_cooldown_s = low
        self.cooldown_s = low  # the current one: grows while trials fail
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.opened = 0  # times the breaker opened
        self.rejected = 0  # calls refused while open

    @property
    def state(self) -> str:
        """The state now (an open breaker whose cooldown ended reads as half-open)."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a call go through now? In half-open, only one trial at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._trial_in_flight:
            self._state = HALF_OPEN
            self._trial_in_flight = True
            return True
        self.rejected += 1
        return False

    def record_success(self) -> None:
        self._state = CLOSED
        self._failures = 0
        self._trial_in_flight = False
        self.cooldown_s = self.min_cooldown_s

    def reset(self) -> None:
        """Close now: the dependency is probably back (the next failures open it again)."""
        self.record_success()

    def record_failure(self, *, grow: bool = True) -> None:
        self._trial_in_flight = False
        if self._state == HALF_OPEN:
            if not grow:
                self._open()
                return
            # The trial failed: wait longer next time, up to the ceiling.
            self.cooldown_s = min(max(self.cooldown_s * 2, self.min_cooldown_s), self.max_cooldown_s)
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._failures = 0
        self.opened += 1

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 when not open)."""
        if self.state != OPEN:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
