"""The monitor worker: feedback join of predictions with results, and model status.

- Consumes the whole durable event stream (consumer ``monitor`` on
  ``nba.events.>``), in stream order: each ``PredictionEvent`` is kept in
  ``monitor.sqlite`` (``config.monitor_path``) until its game's result arrives;
  each ``GamesIngested`` (published by the stats worker after new results
  reached its store) carries the rows of those games: the realized outcome of
  every waiting prediction is stored. The monitor opens no other worker's file.
  Because both events travel one ordered stream, a result always finds the
  predictions published before it.
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

from typing import TYPE_CHECKING

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Delivery, DurableRoute, Route, WorkerContext
from nbamcp.bus.durable import DurableMsg
from nbamcp.calls import call
from nbamcp.errors import ErrorCode, InvalidInput, NotFound, RemoteError, Unavailable
from nbamcp.messages import (
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
)
from nbamcp.predlog.outcomes import OutcomeBook
from nbamcp.predlog.predictions import event_problem
from nbamcp.subjects import EVENTS_ALL

if TYPE_CHECKING:
    from nbamcp.config import Config

log = structlog.get_logger(__name__)

CONSUMER = "monitor"


def _problem(event: PredictionEvent | GamesIngested) -> str | None:
    if isinstance(event, PredictionEvent):
        return event_problem(event)
    if not (event.game_ids or (event.date_from and event.date_to)):
        return "GamesIngested names no games and no date range"
    return None


def traffic_mode(config: Config) -> str:
    """How the inference worker splits traffic (``[inference] traffic``): "shadow" or "champion"."""
    return config.inference.traffic


class MonitorWorker(Actor):
    name = "monitor"

    book: OutcomeBook

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self.resolved = 0
        self.bad = 0

    def routes(self) -> list[Route]:
        return [
            Route(ep.MONITOR_STATUS, self.on_status),
            Route(ep.MONITOR_REPORT, self.on_report),
            Route(ep.MONITOR_PAIRED, self.on_paired),
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

    # ---- the feedback join -----------------------------------------------------------------------
    async def handle_batch(self, batch: list[Delivery[PredictionEvent | GamesIngested]]) -> None:
        """Apply a batch in stream order: predictions are stored before a later result is joined."""
        predictions: list[PredictionEvent] = []
        for d in batch:
            problem = _problem(d.event)
            if problem is not None:
                self.bad += 1
                log.warning("monitor.bad_event", seq=d.msg.seq, subject=d.msg.subject, error=problem)
                await d.msg.term()
            elif isinstance(d.event, PredictionEvent):
                predictions.append(d.event)
            else:
                await self.book.add_predictions(predictions)
                predictions = []
                await self._join(d.msg, d.event)
        await self.book.add_predictions(predictions)

    async def _join(self, m: DurableMsg, event: GamesIngested) -> None:
        if not event.rows:
            # Sent by a stats worker that did not carry the rows yet: nothing to join them with.
            log.warning("monitor.results_without_rows", seq=m.seq, games=len(event.game_ids))
            return
        resolved = await self.book.resolve(event.rows, date_from=event.date_from, date_to=event.date_to)
        self.resolved += resolved
        log.info(
            "monitor.results_joined", seq=m.seq, games=len(event.rows), resolved=resolved,
            date_from=event.date_from, date_to=event.date_to,
        )  # fmt: skip

    # ---- status ----------------------------------------------------------------------------------
    async def on_report(self, req: MonitorReportRequest, ctx: Context) -> MonitorReport:
        return MonitorReport(
            days=await self.book.by_date(req.model_name, req.days),
            calibration=await self.book.calibration(req.model_name, req.days),
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
