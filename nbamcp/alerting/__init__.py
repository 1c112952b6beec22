"""Alerts: how a worker raises one (``Alerter``), where they are kept (``book``), where they go
(``webhook``), and the operations watch (``ops``).

Raising an alert is one call, from any worker that has the process's durable stream::

    alerter = Alerter(ctx.events, source=self.name, dedupe_window_s=config.alerts.dedupe_window_s)
    await alerter.alert("drift.features", "warning", "7 of 20 features drifted", numbers={"share": 0.35})

The ``key`` names the condition: the alerts worker keeps ONE alert per key per dedupe window
(later ones count as its repeats), so a check that runs every minute may raise every minute.
The ``Alerter`` also skips a key it raised inside the window itself (no message per check), and
gives each alert a dedup id (key and window), so a retried publish is stored once. Raising never
fails the caller: a stream that is away costs the alert (logged), not the caller's work.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping

import structlog

from nbamcp import endpoints as ep
from nbamcp.bus.durable import DurableStream
from nbamcp.errors import NbaError
from nbamcp.messages import Alert
from nbamcp.messages.alerts import Severity
from nbamcp.streams import publish_durable

log = structlog.get_logger(__name__)

MAX_SUBJECTS = 50  # game ids or names an alert names; the rest are counted in the reason


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Alerter:
    def __init__(
        self,
        events: DurableStream,
        *,
        source: str,
        dedupe_window_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.events = events
        self.source = source
        self.window_s = dedupe_window_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self.raised = 0
        self.suppressed = 0

    async def alert(
        self,
        key: str,
        severity: Severity,
        reason: str,
        *,
        numbers: Mapping[str, float] | None = None,
        subjects: Iterable[str] = (),
        request_id: str | None = None,
    ) -> bool:
        """Publish the alert unless this key was raised here inside the window; True if published."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window_s:
            self.suppressed += 1
            return False
        names = list(subjects)
        alert = Alert(
            key=key, severity=severity, source=self.source, reason=reason, raised_at=iso(now),
            numbers={k: float(v) for k, v in (numbers or {}).items()}, subjects=names[:MAX_SUBJECTS],
        )  # fmt: skip
        try:
            await publish_durable(
                self.events, ep.ALERTS, alert, request_id=request_id,
                msg_id=f"alert:{key}:{int(now // self.window_s)}",
            )  # fmt: skip
        except NbaError as exc:
            log.warning("alert.publish_failed", key=key, code=exc.code, error=exc.message)
            return False
        self._last[key] = now
        self.raised += 1
        log.warning("alert.raised", key=key, severity=severity, reason=reason)
        return True
