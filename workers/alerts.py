"""The alerts worker: keeps the alerts every worker raises, sends them on, and watches operations.

- Consumes ``nba.events.alerts`` (durable consumer ``alerts``): each ``Alert`` is stored in its
  own ``alerts.sqlite`` (``config.alerts_path``), one per condition key per dedupe window
  (``nbamcp.alerting.book``); a new one goes to the webhook (``[alerts] webhook_url``,
  ``nbamcp.alerting.webhook``: queued, retried with backoff in the background, never in the way
  of the consumer). Undelivered alerts are sent again after a restart.
- Answers ``nba.alerts.list`` (queue ``alerts``): the ``alerts`` tool.
- Every ``[alerts] ops_interval_s`` asks every worker for its health (``nba.health``) and
  raises ``ops.latency_ms.<worker>`` / ``ops.error_rate.<worker>`` on a spike
  (``nbamcp.alerting.ops``).

Run one instance (it owns one file).
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Delivery, DurableRoute, Route, WorkerContext
from nbamcp.alerting import Alerter
from nbamcp.alerting.book import AlertBook
from nbamcp.alerting.ops import OpsWatch
from nbamcp.alerting.webhook import WebhookSink, webhook_host
from nbamcp.bus.base import Msg
from nbamcp.errors import NbaError
from nbamcp.messages import Alert, AlertList, AlertsRequest, HealthPing, HealthReport, decode, encode

log = structlog.get_logger(__name__)

CONSUMER = "alerts"


class AlertsWorker(Actor):
    name = "alerts"

    book: AlertBook

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        s = ctx.config.alerts
        self.settings = s
        self.alerter = Alerter(ctx.events, source=self.name, dedupe_window_s=s.dedupe_window_s)
        self.ops = OpsWatch(s)
        self.webhook: WebhookSink | None = None
        self.stored = self.folded = 0
        # Set after each batch of alerts is stored: tests await it instead of polling.
        self.changed = asyncio.Event()

    def routes(self) -> list[Route]:
        return [Route(ep.ALERTS_LIST, self.list_alerts)]

    def durable_routes(self) -> list[DurableRoute]:
        return [DurableRoute([ep.ALERTS], CONSUMER, self.handle_batch, batch_size=64, max_delay_s=0.05)]

    async def on_start(self) -> None:
        s = self.settings
        self.book = await AlertBook.open(self.config.alerts_path, window_s=s.dedupe_window_s, keep=s.keep)
        self.close_with(self.book.close)
        if s.webhook_url:
            self.webhook = WebhookSink(
                s.webhook_url, timeout_s=s.webhook_timeout_s, retries=s.webhook_retries,
                backoff_s=s.webhook_backoff_s, queue_size=s.webhook_queue,
                on_delivered=self.book.mark_delivered,
            )  # fmt: skip
            for alert in await self.book.undelivered():
                self.webhook.offer(alert)
            self.spawn(self.webhook.run(), name="webhook")
        if s.ops_interval_s > 0:
            self.spawn(self._watch_ops(), name="ops")
        log.info("alerts.ready", path=str(self.book.path), webhook=webhook_host(s.webhook_url))

    async def handle_batch(self, batch: list[Delivery[Alert]]) -> None:
        for d in batch:
            stored = await self.book.add(d.event)
            if stored is None:
                self.folded += 1
                continue
            self.stored += 1
            if self.webhook is not None:
                self.webhook.offer(stored)
        self.changed.set()
        self.changed = asyncio.Event()

    async def list_alerts(self, r: AlertsRequest, ctx: Context) -> AlertList:
        alerts, total = await self.book.recent(since=r.since, severity=r.severity, limit=r.limit)
        return AlertList(
            alerts=alerts, total=total, dedupe_window_s=self.settings.dedupe_window_s,
            webhook=webhook_host(self.settings.webhook_url),
            undelivered=len(await self.book.undelivered()) if self.webhook is not None else 0,
        )  # fmt: skip

    # ---- operations -------------------------------------------------------------------------------
    async def _watch_ops(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ops_interval_s)  # the watch's period, not a wait for work
            try:
                await self.check_ops(await self._gather_health())
            except NbaError as exc:  # the bus is away: next round
                log.warning("alerts.ops_round_failed", code=exc.code, error=exc.message)

    async def check_ops(self, reports: list[HealthReport]) -> int:
        """Feed one round of health reports to the watch; raise an alert per spike. Returns spikes."""
        spikes = self.ops.observe(reports)
        for sp in spikes:
            await self.alerter.alert(
                sp.key, "warning", sp.reason, subjects=[sp.worker],
                numbers={"value": sp.value, "median": sp.median, "limit": sp.limit, "requests": sp.requests},
            )  # fmt: skip
        return len(spikes)

    async def _gather_health(self) -> list[HealthReport]:
        reports: list[HealthReport] = []

        async def on_reply(msg: Msg) -> None:
            try:
                reports.append(decode(msg.data, HealthReport))
            except msgspec.MsgspecError as exc:
                log.warning("alerts.bad_health_reply", error=str(exc))

        inbox = self.bus.new_inbox()
        sub = await self.bus.subscribe(inbox, on_reply)
        try:
            await self.bus.publish(ep.HEALTH.subject, encode(HealthPing()), reply=inbox)
            # Every instance answers; there is no count to wait for: the round is this long.
            await asyncio.sleep(self.settings.ops_health_timeout_s)
        finally:
            await sub.unsubscribe()
        return reports

    def health_detail(self) -> dict[str, str]:
        detail = {"stored": str(self.stored), "folded": str(self.folded), "raised": str(self.alerter.raised)}
        if self.webhook is not None:
            w = self.webhook
            detail |= {"webhook_delivered": str(w.delivered), "webhook_failed": str(w.failed),
                       "webhook_pending": str(w.pending)}  # fmt: skip
        return detail
