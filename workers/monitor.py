"""The monitor worker: feedback join of predictions with results, and model status.

- Consumes the whole durable event stream (consumer ``monitor`` on
  ``nba.events.>``), in stream order: each ``PredictionEvent`` is kept in
  ``monitor.sqlite`` (``config.monitor_path``) until its game's result arrives;
  each ``GamesIngested`` (published by the stats worker after new results
  reached its store) carries the rows of those games: the realized outcome of
  every waiting prediction is stored. The monitor opens no other worker's file.
  Because both events travel one ordered stream, a result always finds the
  predictions published before it.
- Keeps the served feature vectors (the latest ``[monitor] drift_max_rows``) and checks them for
  drift against the serving champion's reference sample (fetched by sha256 from the model
  store, verified): on a schedule (``drift_every_s``), after each ingest of results
  (``drift_after_results``; a storm of ingests coalesces into one check) and on demand
  (``nba.monitor.drift``, the ``drift_report`` tool); Page-Hinkley follows the champion's
  realized per-game Brier; ``nba.monitor.calibration`` answers reliability, ECE and realized
  vs expected Brier of a version (``nbamcp.predlog.drift_watch``, docs/monitoring.md "Drift").
- Answers ``nba.monitor.status`` (queue ``monitor``): per model, champion and
  challenger with their offline metrics from the registry, the traffic mode,
  and realized accuracy / Brier / log loss per model version; and
  ``nba.monitor.report``: the same realized scores per game date, and
  calibration bins (the dashboard's charts); ``nba.monitor.paired``: per realized game,
  the log losses of two versions that both predicted it (the trainer's promotion gate).

Malformed events are logged and terminated (never redelivered). Registry facts
(aliases, offline metrics) come from the trainer (``nba.models.list``); without a
trainer the status says so and still shows the realized metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Delivery, DurableRoute, Route, WorkerContext
from nbamcp.alerting import Alerter
from nbamcp.bus.durable import DurableMsg
from nbamcp.calls import call
from nbamcp.errors import ErrorCode, InvalidInput, NbaError, NotFound, RemoteError, Unavailable
from nbamcp.log import new_request_id
from nbamcp.messages import (
    CalibrationReportReply,
    CalibrationReportRequest,
    DriftAlarm,
    DriftReport,
    DriftReportReply,
    DriftReportRequest,
    GamesIngested,
    ListModelsRequest,
    ModelInfo,
    ModelRoles,
    ModelVersionSummary,
    MonitorReport,
    MonitorReportRequest,
    MonitorStatus,
    MonitorStatusRequest,
    PairedLosses,
    PairedLossesRequest,
    PredictionEvent,
    RealizedMetrics,
    RetrainTrigger,
)
from nbamcp.messages.alerts import Severity
from nbamcp.messages.retrain import TriggerKind
from nbamcp.monitoring.charts import drift_chart, evidence, reliability_chart
from nbamcp.predlog.drift_watch import DriftWatch, Settings
from nbamcp.predlog.outcomes import OutcomeBook
from nbamcp.predlog.predictions import event_problem
from nbamcp.predlog.reference_source import ReferenceSource
from nbamcp.predlog.windows import latest_version
from nbamcp.streams import publish_durable
from nbamcp.subjects import EVENTS_ALL

if TYPE_CHECKING:
    from nbamcp.config import Config

log = structlog.get_logger(__name__)

CONSUMER = "monitor"
# Alarms that ask the trainer for a new challenger (prediction drift alone is a sign, not a reason).
RETRAIN_KINDS: dict[str, TriggerKind] = {"dataset_drift": "drift", "concept_drift": "concept_drift"}


def _problem(event: PredictionEvent | GamesIngested) -> str | None:
    if isinstance(event, PredictionEvent):
        return event_problem(event)
    if not (event.game_ids or (event.date_from and event.date_to)):
        return "GamesIngested names no games and no date range"
    return None


def traffic_mode(config: Config) -> str:
    """How the inference worker splits traffic (``[inference] traffic``): shadow, champion, canary or ab."""
    return config.inference.traffic


class MonitorWorker(Actor):
    name = "monitor"

    book: OutcomeBook
    drift: DriftWatch
    reference: ReferenceSource

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.resolved = 0
        self.bad = 0
        self._check_due = asyncio.Event()  # results arrived: a drift check is due
        self.drift_errors = 0
        self.scheduled_checks = 0  # attempted, whatever their outcome
        self.retrain_triggers = 0
        # Standing alarms whose retraining request did not land (the bus away): asked again.
        self._unasked: set[str] = set()
        self.alerter = Alerter(
            ctx.events, source=self.name, dedupe_window_s=ctx.config.alerts.dedupe_window_s
        )
        self._checked = asyncio.Event()  # set (and renewed) after each scheduled check

    def routes(self) -> list[Route]:
        return [
            Route(ep.MONITOR_STATUS, self.on_status),
            Route(ep.MONITOR_REPORT, self.on_report),
            Route(ep.MONITOR_PAIRED, self.on_paired),
            Route(ep.MONITOR_DRIFT, self.on_drift),
            Route(ep.MONITOR_CALIBRATION, self.on_calibration),
        ]

    def durable_routes(self) -> list[DurableRoute]:
        s = self.config.monitor
        # One consumer of both events: a result always finds the predictions published before it.
        route = DurableRoute(
            [ep.PREDICTION_EVENTS, ep.GAMES_INGESTED], CONSUMER, self.handle_batch,
            batch_size=s.batch_size, max_delay_s=s.max_delay_s, filter=EVENTS_ALL,
        )  # fmt: skip
        return [route]

    async def on_start(self) -> None:
        self.book = await OutcomeBook.open(self.config.monitor_path)
        self.close_with(self.book.close)
        s = self.config.monitor
        self.drift = DriftWatch(
            self.book,
            Settings(
                window_predictions=s.drift_window_predictions, window_days=s.drift_window_days,
                ph_threshold=s.page_hinkley_threshold, ph_delta=s.page_hinkley_delta,
                concept_alarm_games=s.concept_alarm_games,
            ),
        )  # fmt: skip
        self.reference = ReferenceSource(
            self.bus, await self.ctx.stores.objects(self.config.data.models_bucket),
            model_name=self.config.inference.model_name, timeout_s=self.config.bus.request_timeout_s,
        )  # fmt: skip
        self.spawn(self._drift_loop(), name="monitor-drift")

    # ---- the feedback join -----------------------------------------------------------------------
    async def handle_batch(self, batch: list[Delivery[PredictionEvent | GamesIngested]]) -> None:
        """Apply a batch in stream order: predictions are stored before a later result is joined."""
        predictions: list[PredictionEvent] = []
        keep = self.config.monitor.drift_max_rows
        for d in batch:
            problem = _problem(d.event)
            if problem is not None:
                self.bad += 1
                log.warning("monitor.bad_event", seq=d.msg.seq, subject=d.msg.subject, error=problem)
                await d.msg.term()
            elif isinstance(d.event, PredictionEvent):
                predictions.append(d.event)
            else:
                await self.book.add_predictions(predictions, keep_features=keep)
                predictions = []
                await self._join(d.msg, d.event)
        # One transaction for the batch's predictions and the drift windows' bound (was two, plus a
        # look-up: under load each trip to the database's thread waits for a busy event loop).
        await self.book.add_predictions(predictions, keep_features=keep)
        self.moved()  # predictions stored, results joined: the status moved

    async def _join(self, m: DurableMsg, event: GamesIngested) -> None:
        if not event.rows:
            # Sent by a stats worker that did not carry the rows yet: nothing to join them with.
            log.warning("monitor.results_without_rows", seq=m.seq, games=len(event.game_ids))
            return
        resolved = await self.book.resolve(event.rows, date_from=event.date_from, date_to=event.date_to)
        self.resolved += resolved
        if resolved and self.config.monitor.drift_after_results:
            self._check_due.set()
        log.info(
            "monitor.results_joined", seq=m.seq, games=len(event.rows), resolved=resolved,
            date_from=event.date_from, date_to=event.date_to,
        )  # fmt: skip

    # ---- drift -----------------------------------------------------------------------------------
    async def _drift_loop(self) -> None:
        """Scheduled checks, and one after results arrived (however many ingests came meanwhile)."""
        every = self.config.monitor.drift_every_s
        while True:
            trigger = "results"
            try:
                async with asyncio.timeout(every or None):
                    await self._check_due.wait()
            except TimeoutError:
                trigger = "schedule"
            self._check_due.clear()
            await self.scheduled_check(trigger)

    async def scheduled_check(self, trigger: str) -> DriftReport | None:
        """A check of the configured window: it sets the alarm state. Failures are logged, not raised:
        no champion yet, or no served rows, is an ordinary state of a new server."""
        try:
            return await self._scheduled_check(trigger)
        finally:
            self.scheduled_checks += 1
            self._checked.set()
            self._checked = asyncio.Event()
            self.moved()

    async def _scheduled_check(self, trigger: str) -> DriftReport | None:
        before = set(self.drift.alarms)
        try:
            report = await self.drift.check(await self.reference.serving(new_request_id()), trigger=trigger)
        except NbaError as exc:
            self.drift_errors += 1
            log.info("monitor.drift_skipped", trigger=trigger, code=exc.code, why=exc.message)
            return None
        log.info(
            "monitor.drift_checked", trigger=trigger, version=report.model_version, rows=report.n_current,
            share=report.share, drifted=report.drifted, alarms=[a.condition for a in report.alarms],
        )  # fmt: skip
        standing = {a.condition for a in report.alarms}
        self._unasked &= standing  # an alarm that cleared asks for nothing any more
        for alarm in report.alarms:
            if alarm.condition in before and alarm.condition not in self._unasked:
                continue  # raised by an earlier check: alerted and asked then
            if alarm.condition not in before:
                await self._alert(report, alarm)
            if self.config.monitor.retrain_on_alarm and alarm.condition in RETRAIN_KINDS:
                await self._ask_retraining(report, alarm)
        return report

    async def _alert(self, report: DriftReport, alarm: DriftAlarm) -> None:
        """A newly raised alarm is an alert on ``nba.events.alerts`` (deduped per condition)."""
        numbers = {"drift_share": report.share, "games": float(report.n_current),
                   "model_version": float(report.model_version)}  # fmt: skip
        if report.performance.brier_gap is not None:
            numbers["brier_gap"] = report.performance.brier_gap
        severity: Severity = "critical" if alarm.condition == "concept_drift" else "warning"
        await self.alerter.alert(
            f"drift.{alarm.condition}", severity, alarm.detail[:500], numbers=numbers,
            subjects=[f"{report.model_name} v{report.model_version}"],
        )  # fmt: skip

    async def _ask_retraining(self, report: DriftReport, alarm: DriftAlarm) -> None:
        """A newly raised drift or concept-drift alarm asks the trainer for a new challenger (once per
        alarm, and at each later check while its request has not landed: the trigger id names the
        alarm, so a re-sent one is recorded once)."""
        kind = RETRAIN_KINDS[alarm.condition]
        metrics = {
            "drift_share": report.share, "games": float(report.n_current),
            "model_version": float(report.model_version), "page_hinkley": report.concept.statistic,
        }  # fmt: skip
        if report.performance.brier_gap is not None:
            metrics["brier_gap"] = report.performance.brier_gap
        event = RetrainTrigger(
            trigger_id=f"{kind}:{report.model_name}:v{report.model_version}:{int(alarm.since)}",
            kind=kind, reason=alarm.detail[:500], model_name=report.model_name, source=self.name,
            metrics=metrics, ts=alarm.since,
        )  # fmt: skip
        try:
            await publish_durable(self.ctx.events, ep.RETRAIN_TRIGGERS, event)
        except NbaError as exc:
            # The alarm stands, and may stand for good with nothing retraining: the next check
            # asks again (same trigger id, so a request that did land after all is recorded once).
            self._unasked.add(alarm.condition)
            log.warning("monitor.retrain_trigger_failed", kind=kind, code=exc.code, error=exc.message)
            return
        self._unasked.discard(alarm.condition)
        self.retrain_triggers += 1
        log.info("monitor.retrain_asked", kind=kind, trigger_id=event.trigger_id, reason=event.reason)

    async def wait_checked(self, after: int) -> None:
        """Until more than ``after`` scheduled checks have run (for tests and tools that wait on one)."""
        while self.scheduled_checks <= after:
            await self._checked.wait()

    async def on_drift(self, req: DriftReportRequest, ctx: Context) -> DriftReportReply:
        served = await self.reference.serving(ctx.request_id)
        report = await self.drift.check(served, n=req.window_predictions, days=req.window_days)
        rows = [
            (f.name, evidence(f.test, f.statistic, f.p_value, f.threshold), f.drifted, f.counted)
            for f in ([report.prediction] if report.prediction else []) + report.features
        ]
        title = (
            f"drift of {report.model_name} v{report.model_version}: {report.n_current} games "
            f"{report.window_from}..{report.window_to}, share {report.share:.2f}"
        )
        png = await asyncio.to_thread(drift_chart, rows, title)
        return DriftReportReply(report=report, png=png)

    async def on_calibration(self, req: CalibrationReportRequest, ctx: Context) -> CalibrationReportReply:
        name = self.config.inference.model_name
        version = req.model_version
        if version is None:
            with contextlib.suppress(NbaError):  # no registry: the latest version that served
                version = (await self.reference.serving(ctx.request_id)).version
        if version is None:
            version = await latest_version(self.book.conn, name)
        if version is None:
            raise NotFound(f"no predictions of model {name!r} logged yet: nothing to calibrate")
        report = await self.drift.calibration(name, version, req.since)
        if not report.n_games:
            since = f" since {req.since}" if req.since else ""
            raise NotFound(f"no realized games of {name} v{version}{since}: results are scored once ingested")
        points = [(b.mean_predicted, b.observed, b.n) for b in report.bins if b.mean_predicted is not None]
        title = f"reliability of {name} v{version}: {report.n_games} games, ECE {report.ece:.3f}"
        png = await asyncio.to_thread(reliability_chart, points, title)  # type: ignore[arg-type]
        return CalibrationReportReply(report=report, png=png)

    # ---- status ----------------------------------------------------------------------------------
    async def on_report(self, req: MonitorReportRequest, ctx: Context) -> MonitorReport:
        return MonitorReport(
            days=await self.book.by_date(req.model_name, req.days),
            calibration=await self.book.calibration(req.model_name, req.days),
            drift=self.drift.summary(),
        )

    async def on_paired(self, req: PairedLossesRequest, ctx: Context) -> PairedLosses:
        if req.version_a == req.version_b:
            raise InvalidInput(
                f"version_a and version_b are both {req.version_a}: pair two different versions"
            )
        games = await self.book.paired(req.model_name, req.version_a, req.version_b, req.max_games)
        return PairedLosses(
            model_name=req.model_name, version_a=req.version_a, version_b=req.version_b, games=games
        )

    async def on_status(self, req: MonitorStatusRequest, ctx: Context) -> MonitorStatus:
        models, registry_state = await self._models(req.model_name, ctx.request_id)
        roles = {
            (m.name, v.version): role
            for m in models
            for role, v in (("champion", m.champion), ("challenger", m.challenger))
            if v is not None
        }
        realized = [
            msgspec.structs.replace(r, role=roles.get((r.model_name, r.model_version), ""))
            for r in await self.book.realized(req.model_name)
        ]
        n_events, last = await self.book.results_summary()
        return MonitorStatus(
            models=models,
            traffic_mode=traffic_mode(self.config),
            realized=realized,
            pending=await self.book.pending(),
            predictions_seen=await self.book.predictions(),
            results_events=n_events,
            last_results=last,
            registry=registry_state,
        )

    async def _models(self, only: str | None, rid: str) -> tuple[list[ModelRoles], str]:
        """The champion and challenger of each model (or of ``only``), as the trainer's registry says."""
        timeout = self.config.bus.request_timeout_s
        try:
            listed = await call(self.bus, ep.MODELS_LIST, ListModelsRequest(name=only), timeout_s=timeout,
                                request_id=rid)  # fmt: skip
        except RemoteError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                raise NotFound(exc.message, details=exc.details) from None
            log.warning("monitor.registry_unavailable", code=exc.code, error=exc.message)
            return [], f"unavailable: {exc.code}: {exc.message}"
        except Unavailable as exc:  # no trainer: the realized metrics are still worth showing
            log.warning("monitor.registry_unavailable", error=exc.message)
            return [], f"unavailable: {exc.message}"
        if not listed.models:
            return [], "missing"
        by_version = {(m.name, m.version): m for m in listed.models}
        out = []
        for name, aliases in listed.aliases.items():
            roles: dict[str, ModelVersionSummary | None] = {}
            for alias in ("champion", "challenger"):
                info = by_version.get((name, aliases[alias])) if alias in aliases else None
                roles[alias] = _summary(info) if info is not None else None
            out.append(ModelRoles(name=name, champion=roles["champion"], challenger=roles["challenger"]))
        return out, "ok"

    def health_detail(self) -> dict[str, str]:
        detail = {"resolved": str(self.resolved), "bad_events": str(self.bad), "stream": self.ctx.events.kind}
        if hasattr(self, "drift"):  # started
            detail |= {
                "drift_checks": str(self.drift.checks),
                "drift_alarms": ",".join(sorted(self.drift.alarms)),
            }
        loop = self.consumers.get(CONSUMER)
        if loop is not None:
            detail |= {"batches": str(loop.batches), "last_seq": str(loop.last_seq)}
        return detail


def _summary(m: ModelInfo) -> ModelVersionSummary:
    return ModelVersionSummary(
        version=m.version,
        model_kind=m.model_kind,
        feature_set_version=m.feature_set_version,
        trained_at=m.trained_at,
        offline=m.valid,
    )


__all__ = ["MonitorWorker", "RealizedMetrics", "traffic_mode"]
