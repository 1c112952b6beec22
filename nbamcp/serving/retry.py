"""Retries with exponential backoff and jitter for transient failures.

Only what may succeed on a second try is retried (the caller says which
exceptions: timeouts, "no responders" while a worker restarts). ``sleep`` and
``random`` are injectable so tests run without waiting.
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
