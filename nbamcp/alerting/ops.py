"""The operations watch: per worker, the mean latency and the error rate of each interval, from the
workers' own counters (their ``HealthReport``s), judged by a rolling median/MAD
(``nbamcp.monitoring.spikes``).

``OpsWatch.observe(reports)`` takes one round of health reports (every instance that answered),
turns each instance's counters into the interval's deltas (a restarted instance, whose counters
went back, starts afresh), sums them per worker, and returns the spikes. An interval with fewer
than ``min_requests`` requests is not judged: three slow calls out of five is not an incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nbamcp.config import AlertsConfig
from nbamcp.messages import HealthReport
from nbamcp.monitoring.spikes import SpikeDetector


@dataclass(frozen=True, slots=True)
class OpsSpike:
    worker: str
    metric: str  # "latency_ms" | "error_rate"
    value: float
    median: float
    limit: float
    requests: int

    @property
    def key(self) -> str:
        return f"ops.{self.metric}.{self.worker}"

    @property
    def reason(self) -> str:
        unit = " ms" if self.metric == "latency_ms" else ""
        what = "mean latency" if self.metric == "latency_ms" else "error rate"
        return (
            f"the {self.worker} worker's {what} was {self.value:.3g}{unit} over {self.requests} requests, "
            f"above its limit {self.limit:.3g}{unit} (rolling median {self.median:.3g}{unit})"
        )


class OpsWatch:
    def __init__(self, settings: AlertsConfig) -> None:
        self.settings = settings
        self._last: dict[str, tuple[int, int, float]] = {}  # instance -> (requests, errors, busy_s)
        self._detectors: dict[tuple[str, str], SpikeDetector] = {}

    def _detector(self, worker: str, metric: str) -> SpikeDetector:
        key = (worker, metric)
        det = self._detectors.get(key)
        if det is None:
            s = self.settings
            floor = s.ops_latency_floor_ms if metric == "latency_ms" else s.ops_error_rate_floor
            det = self._detectors[key] = SpikeDetector(
                window=s.ops_window, min_history=s.ops_min_history, k=s.ops_k, rel=1.0, floor=floor
            )
        return det

    def observe(self, reports: Iterable[HealthReport]) -> list[OpsSpike]:
        per_worker: dict[str, list[float]] = {}
        for r in reports:
            now = (r.requests, r.request_errors, r.busy_s)
            before = self._last.get(r.instance)
            self._last[r.instance] = now
            if before is None or now[0] < before[0]:
                continue  # first sight of this instance, or it restarted
            acc = per_worker.setdefault(r.name, [0.0, 0.0, 0.0])
            for i in range(3):
                acc[i] += now[i] - before[i]
        spikes = []
        for worker, (requests, errors, busy) in sorted(per_worker.items()):
            if requests < self.settings.ops_min_requests:
                continue
            n = int(requests)
            for metric, value in (("latency_ms", 1e3 * busy / requests), ("error_rate", errors / requests)):
                spike = self._detector(worker, metric).observe(value)
                if spike is not None:
                    spikes.append(OpsSpike(worker, metric, spike.value, spike.median, spike.limit, n))
        return spikes
