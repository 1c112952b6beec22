"""What the dashboard shows, gathered at once: over the bus (health, model status, the monitor's
report) and from this front end (the last minutes of calls). A source that does not answer
becomes a sentence on its panel, never a broken page."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nbamcp import endpoints as ep
from nbamcp.errors import NbaError
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.recent import RecentCalls, Window
from nbamcp.messages import (
    AlertList,
    AlertsRequest,
    HealthReport,
    MonitorReport,
    MonitorReportRequest,
    MonitorStatus,
    MonitorStatusRequest,
)

WINDOW_S = 900.0  # the "now" of the traffic panels: the last 15 minutes
ALERTS_SHOWN = 10  # the newest alerts on the page (the `alerts` tool lists more)


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits_l1: int
    hits_l2: int
    misses: int

    @property
    def lookups(self) -> int:
        return self.hits_l1 + self.hits_l2 + self.misses

    @property
    def ratio(self) -> float | None:
        return (self.hits_l1 + self.hits_l2) / self.lookups if self.lookups else None


@dataclass(slots=True)
class DashboardData:
    generated_at: str
    window: Window
    workers: list[HealthReport] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    cache: CacheStats | None = None
    status: MonitorStatus | None = None
    report: MonitorReport | None = None
    alerts: AlertList | None = None
    problems: dict[str, str] = field(default_factory=dict)  # panel -> why it has no data


def cache_stats(reports: list[HealthReport]) -> CacheStats | None:
    caches = [r for r in reports if r.name == "cache"]
    if not caches:
        return None

    def total(key: str) -> int:
        return sum(int(r.detail.get(key, "0") or 0) for r in caches)

    return CacheStats(hits_l1=total("hits_l1"), hits_l2=total("hits_l2"), misses=total("misses"))


async def gather(gw: Gateway, recent: RecentCalls, *, timeout_s: float) -> DashboardData:
    data = DashboardData(
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), window=recent.window(WINDOW_S)
    )
    health, status, report, alerts = await asyncio.gather(
        gw.health(timeout_s),
        _status(gw, timeout_s * 5),
        _report(gw, timeout_s * 5),
        _alerts(gw, timeout_s),
        return_exceptions=True,
    )
    if isinstance(health, BaseException):
        data.problems["workers"] = _why(health)
    else:
        data.workers = health
        data.missing = sorted(set(gw.expected_workers) - {r.name for r in health})
        data.cache = cache_stats(health)
    if isinstance(status, BaseException):
        data.problems["models"] = _why(status)
    else:
        data.status = status
    if isinstance(report, BaseException):
        data.problems["report"] = _why(report)
    else:
        data.report = report
    if isinstance(alerts, BaseException):
        data.problems["alerts"] = _why(alerts)
    else:
        data.alerts = alerts
    return data


async def _status(gw: Gateway, timeout_s: float) -> MonitorStatus:
    return await gw.call(ep.MONITOR_STATUS, MonitorStatusRequest(), timeout_s=timeout_s)


async def _report(gw: Gateway, timeout_s: float) -> MonitorReport:
    return await gw.call(ep.MONITOR_REPORT, MonitorReportRequest(), timeout_s=timeout_s)


async def _alerts(gw: Gateway, timeout_s: float) -> AlertList:
    return await gw.call(ep.ALERTS_LIST, AlertsRequest(limit=ALERTS_SHOWN), timeout_s=timeout_s)


def _why(exc: BaseException) -> str:
    if isinstance(exc, NbaError):
        return f"{exc.code}: {exc.message}"
    raise exc  # a bug, not an answer: the page's boundary logs it
