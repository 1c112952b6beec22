"""The monitor worker: feedback join of predictions with results, and model status.

- Consumes the whole durable event stream (consumer ``monitor`` on
  ``nba.events.>``), in stream order: each ``PredictionEvent`` is kept in
  ``monitor.sqlite`` (``config.monitor_path``) until its game's result arrives;
  each ``GamesIngested`` (published by ingestion after new results reached the
  store) reads those games from the stats store (``config.store_path``,
  read-only) and stores the realized outcome of every waiting prediction.
  Because both events travel one ordered stream, a result always finds the
  predictions published before it.
- Answers ``nba.monitor.status`` (queue ``monitor``): per model, champion and
  challenger with their offline metrics from the registry, the traffic mode,
  and realized accuracy / Brier / log loss per model version.

Malformed events are logged and terminated (never redelivered); a store that
cannot be read yet sends the results event back for a later retry.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Delivery, DurableRoute, Route, WorkerContext
from nbamcp.bus.durable import DurableMsg
from nbamcp.errors import NotFound, Unavailable
from nbamcp.messages import (
    GamesIngested,
    ModelRoles,
    ModelVersionSummary,
    MonitorStatus,
    MonitorStatusRequest,
    OfflineMetrics,
    PredictionEvent,
    RealizedMetrics,
)
from nbamcp.predlog.outcomes import OutcomeBook
from nbamcp.predlog.predictions import event_problem
from nbamcp.predlog.results import read_results
from nbamcp.subjects import EVENTS_ALL

if TYPE_CHECKING:
    from nbamcp.config import Config
    from nbamcp.ml.registry import ModelRegistry, ModelVersion

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
        self._registry: ModelRegistry | None = None
        self.resolved = 0
        self.bad = 0

    def routes(self) -> list[Route]:
        return [Route(ep.MONITOR_STATUS, self.on_status)]

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
        self.close_with(self._close_registry)

    async def _close_registry(self) -> None:
        if self._registry is not None:
            await self._registry.close()
            self._registry = None

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
        try:
            games = await read_results(
                self.config.store_path,
                game_ids=event.game_ids,
                date_from=event.date_from,
                date_to=event.date_to,
            )
        except Unavailable as exc:
            # Not this event's fault: the store is not readable right now. This
            # event comes back later (at most max_deliver times); the rest of the
            # batch goes on.
            retry = self.config.monitor.results_retry_s
            log.warning("monitor.results_unavailable", seq=m.seq, error=exc.message, retry_in_s=retry)
            await m.nak(retry)
            return
        resolved = await self.book.resolve(games, date_from=event.date_from, date_to=event.date_to)
        self.resolved += resolved
        log.info(
            "monitor.results_joined", seq=m.seq, games=len(games), resolved=resolved,
            date_from=event.date_from, date_to=event.date_to,
        )  # fmt: skip

    # ---- status ----------------------------------------------------------------------------------
    async def on_status(self, req: MonitorStatusRequest, ctx: Context) -> MonitorStatus:
        models, registry_state = await self._models(req.model_name)
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

    async def _open_registry(self) -> ModelRegistry | None:
        if self._registry is None and self.config.registry_path.exists():
            from nbamcp.ml.registry import ModelRegistry

            self._registry = await ModelRegistry.open(self.config.registry_path, self.config.artifacts_dir)
        return self._registry

    async def _models(self, only: str | None) -> tuple[list[ModelRoles], str]:
        try:
            registry = await self._open_registry()
        except Exception as exc:  # a broken registry must not hide the realized metrics
            log.warning("monitor.registry_unavailable", error=str(exc))
            return [], f"unavailable: {exc}"
        if registry is None:
            if only is not None:
                raise NotFound(f"no model named {only!r}: no model has been registered yet")
            return [], "missing"
        names = await registry.names()
        if only is not None:
            if only not in names:
                raise NotFound(
                    f"no model named {only!r}; registered models: {', '.join(names) or '(none)'}",
                    details={"models": ",".join(names)},
                )
            names = [only]
        out = []
        for name in names:
            aliases = await registry.aliases(name)
            summaries: dict[str, ModelVersionSummary | None] = {}
            for alias in ("champion", "challenger"):
                summaries[alias] = None
                if alias in aliases:
                    with contextlib.suppress(NotFound):
                        summaries[alias] = _summary(await registry.get(name, aliases[alias]))
            out.append(
                ModelRoles(name=name, champion=summaries["champion"], challenger=summaries["challenger"])
            )
        return out, "ok"

    def health_detail(self) -> dict[str, str]:
        detail = {"resolved": str(self.resolved), "bad_events": str(self.bad), "stream": self.ctx.events.kind}
        loop = self.consumers.get(CONSUMER)
        if loop is not None:
            detail |= {"batches": str(loop.batches), "last_seq": str(loop.last_seq)}
        return detail


def _summary(mv: ModelVersion) -> ModelVersionSummary:
    metrics = mv.metrics or {}
    valid = metrics.get("valid") or {}
    params = mv.params or {}

    def num(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    n = valid.get("n")
    return ModelVersionSummary(
        version=mv.version,
        model_kind=mv.model_kind,
        feature_set_version=mv.feature_set_version,
        trained_at=mv.trained_at,
        offline=OfflineMetrics(
            n=int(n) if isinstance(n, int) else None,
            brier=num(valid.get("brier")),
            log_loss=num(valid.get("log_loss")),
            accuracy=num(valid.get("accuracy")),
            cv_log_loss=num(metrics.get("cv_log_loss")),
            valid_seasons=[int(s) for s in params.get("valid_seasons", []) if isinstance(s, int)],
        ),
    )


__all__ = ["MonitorWorker", "RealizedMetrics", "traffic_mode"]
