"""Page-Hinkley test for an increase in the mean of a stream (concept drift on per-game losses).

Written here rather than taken from ``river``: the detector is twenty lines, river is a large
compiled dependency, and we need its one upward detector only. The update is river's
(``river.drift.PageHinkley`` with ``mode="up"``): with the running mean m_t of the stream,

    S_t = alpha * S_{t-1} + (x_t - m_t - delta),   M_t = min(M_{t-1}, S_t)

and drift is signalled when S_t - M_t > threshold (after ``min_instances`` values). ``delta`` is
the change too small to care about; ``threshold`` trades detection delay for false alarms. After
a detection the detector starts afresh, so a lasting change is reported once.

The monitor feeds it the realized Brier score of each game (in game-date order); the defaults
were chosen on real seasons (see ``docs/monitoring.md`` for the false-alarm rate measured).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class PageHinkley:
    delta: float = 0.005
    threshold: float = 8.0
    alpha: float = 1.0  # 1: no forgetting (river's default is 1 - 1e-4)
    min_instances: int = 30
    n: int = 0
    mean: float = 0.0
    cumulative: float = 0.0
    minimum: float = 0.0
    detections: list[int] = field(default_factory=list)  # positions (1-based, over all values seen)
    seen: int = 0

    def reset(self) -> None:
        self.n, self.mean, self.cumulative, self.minimum = 0, 0.0, 0.0, 0.0

    @property
    def statistic(self) -> float:
        """S_t - M_t: how far the cumulative excess rose above its lowest point."""
        return self.cumulative - self.minimum

    def update(self, x: float) -> bool:
        """Feed one value; True when it completes a detection (the detector then resets)."""
        self.seen += 1
        self.n += 1
        self.mean += (x - self.mean) / self.n
        self.cumulative = self.alpha * self.cumulative + (x - self.mean - self.delta)
        self.minimum = min(self.minimum, self.cumulative)
        if self.n >= self.min_instances and self.statistic > self.threshold:
            self.detections.append(self.seen)
            self.reset()
            return True
        return False
