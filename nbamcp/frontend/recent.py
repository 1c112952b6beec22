"""The last few minutes of tool calls, for the dashboard's rate, latency and error panels.

Prometheus counters say what happened since the process started; a person
looking at a page wants "now". A bounded deque of (time, tool, code, seconds)
answers that without a time-series database.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Call:
    at: float
    tool: str
    code: str  # "ok" or the error code
    seconds: float


@dataclass(frozen=True, slots=True)
class Window:
    seconds: float
    calls: int
    per_minute: float
    p50_ms: float | None
    p95_ms: float | None
    errors: dict[str, int]
    by_tool: dict[str, int]
    # Calls per minute, oldest first, one value per minute of the window.
    per_minute_series: list[int]


class RecentCalls:
    def __init__(self, max_calls: int = 50_000, clock: Callable[[], float] = time.time) -> None:
        self._calls: deque[Call] = deque(maxlen=max_calls)
        self._clock = clock

    def add(self, tool: str, code: str, seconds: float) -> None:
        self._calls.append(Call(self._clock(), tool, code, seconds))

    def window(self, seconds: float = 900.0) -> Window:
        now = self._clock()
        calls = [c for c in self._calls if c.at >= now - seconds]
        lat = sorted(c.seconds for c in calls)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3, 3) if lat else None

        minutes = max(1, int(seconds // 60))
        series = [0] * minutes
        for c in calls:
            series[min(minutes - 1, int((c.at - (now - seconds)) // 60))] += 1
        return Window(
            seconds=seconds,
            calls=len(calls),
            per_minute=round(len(calls) / (seconds / 60.0), 3),
            p50_ms=pct(0.5),
            p95_ms=pct(0.95),
            errors=dict(Counter(c.code for c in calls if c.code != "ok").most_common()),
            by_tool=dict(Counter(c.tool for c in calls).most_common()),
            per_minute_series=series,
        )
