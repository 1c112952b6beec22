"""Spikes in an operations series (latency, error rate, throughput per worker): rolling median/MAD.

For each new value the detector compares it with the median of the last ``window`` values
before it: a spike is a value above

    median + max(k * 1.4826 * MAD, rel * median, floor)

(1.4826 * MAD estimates the standard deviation of normal data and, unlike it, ignores the
spikes themselves). ``rel`` and ``floor`` keep a quiet series (MAD near 0) from alarming on
noise: a latency from 1.0 to 1.2 ms is not an incident. Nothing is judged before
``min_history`` values. A spike is not added to the history, so a lasting outage keeps
alarming rather than becoming the new normal (the alert's dedupe window keeps it to one
alert).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

MAD_SCALE = 1.4826


@dataclass(frozen=True, slots=True)
class Spike:
    value: float
    median: float
    limit: float


@dataclass(slots=True)
class SpikeDetector:
    window: int = 60
    min_history: int = 10
    k: float = 5.0
    rel: float = 1.0  # a spike is at least double the median...
    floor: float = 0.0  # ...and at least this far above it (the series' unit)
    history: deque[float] = field(default_factory=deque)

    def limit(self) -> tuple[float, float] | None:
        """(median, limit) of the history, None while it is too short."""
        if len(self.history) < self.min_history:
            return None
        h = np.fromiter(self.history, dtype=np.float64)
        med = float(np.median(h))
        mad = float(np.median(np.abs(h - med)))
        return med, med + max(self.k * MAD_SCALE * mad, self.rel * med, self.floor)

    def observe(self, value: float) -> Spike | None:
        """Judge ``value`` against the history, then (unless it is a spike) add it."""
        bounds = self.limit()
        if bounds is not None and value > bounds[1]:
            return Spike(value=value, median=bounds[0], limit=bounds[1])
        self.history.append(float(value))
        while len(self.history) > self.window:
            self.history.popleft()
        return None
