"""Retries with exponential backoff and jitter for transient failures.

Only what may succeed on a second try is retried (the caller says which
exceptions: timeouts, "no responders" while a worker restarts). ``sleep`` and
``random`` are injectable so tests run without waiting. ``retry_until`` is the
unbounded kind, for background work that must land in the end (a model reload
nobody answered, a job the queue did not take).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 2  # attempts after the first
    backoff_s: float = 0.02  # first pause; doubles each retry
    max_backoff_s: float = 1.0
    jitter: float = 0.5  # each pause is scaled by a random factor in [1 - jitter, 1]

    def pause(self, attempt: int, rnd: float) -> float:
        """Pause before retry number ``attempt`` (1-based), for a random draw ``rnd`` in [0, 1)."""
        base = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        return base * (1.0 - self.jitter * rnd)


async def retry_call(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    transient: tuple[type[BaseException], ...],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rnd: Callable[[], float] = random.random,
    what: str = "call",
) -> T:
    """``await fn()``; on a ``transient`` exception wait and try again, at most ``policy.retries`` times."""
    attempt = 0
    while True:
        try:
            return await fn()
        except transient as exc:
            attempt += 1
            if attempt > policy.retries:
                raise
            pause = policy.pause(attempt, rnd())
            log.info("retry", what=what, attempt=attempt, pause_ms=round(pause * 1e3, 1), error=str(exc))
            await sleep(pause)


# Background work that must land in the end: 1 s doubling to 30 s, jittered.
UNTIL_IT_LANDS = RetryPolicy(backoff_s=1.0, max_backoff_s=30.0)


async def retry_until(
    attempt: Callable[[int], Awaitable[bool]],
    *,
    what: str,
    policy: RetryPolicy = UNTIL_IT_LANDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rnd: Callable[[], float] = random.random,
) -> None:
    """Pause, then ``await attempt(n)`` (n from 1), until it returns True; no give-up. ``attempt``
    handles its own failures (and says True when there is nothing left to do)."""
    n = 0
    while True:
        n += 1
        pause = policy.pause(n, rnd())
        log.info("retry", what=what, attempt=n, pause_ms=round(pause * 1e3, 1))
        await sleep(pause)
        if await attempt(n):
            return
