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
from typing import TYPE_CHECKING, Any, Self

import msgspec
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Route
from nbamcp.bus.base import Bus
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
    decoder_for,
)
from nbamcp.predlog.batching import BatchLoop
from nbamcp.predlog.outcomes import OutcomeBook
from nbamcp.predlog.predictions import event_problem
from nbamcp.predlog.results import read_results
from nbamcp.streams import StreamHandle, open_durable
from nbamcp.subjects import EVENTS_ALL, EVENTS_GAMES, EVENTS_PREDICTION

if TYPE_CHECKING:
    from nbamcp.config import Config
    from nbamcp.ml.registry import ModelRegistry, ModelVersion

log = structlog.get_logger(__name__)

CONSUMER = "monitor"


def traffic_mode(config: Config) -> str:
    """How the inference worker splits traffic (``[inference] traffic``): "shadow" or "champion"."""
    return config.inference.traffic


class MonitorWorker(Actor):
    name = "monitor"

    def __init__(
        self, bus: Bus, *, config: Config, concurrency: int = 32, stop_deadline_s: float = 10.0
    ) -> None:
        super().__init__(bus, concurrency=concurrency, stop_deadline_s=stop_deadline_s)
        self.config = config
        self._pred_decoder = decoder_for(PredictionEvent)
        self._games_decoder = decoder_for(GamesIngested)
        self._stream: StreamHandle | None = None
        self.book: OutcomeBook | None = None
        self.loop: BatchLoop | None = None
        self._registry: ModelRegistry | None = None
        self.resolved = 0
        self.bad = 0

    @classmethod
    def from_config(cls, bus: Bus, config: Config) -> Self:
        return cls(
            bus,
            config=config,
            concurrency=config.workers.concurrency,
            stop_deadline_s=config.workers.stop_deadline_s,
        )

    def routes(self) -> list[Route]:
        return [Route(ep.MONITOR_STATUS, self.on_status)]

    async def on_start(self) -> None:
        try:
            self.book = await OutcomeBook.open(self.config.monitor_path)
            self._stream = await open_durable(self.bus, self.config)
            consumer = await self._stream.consumer(CONSUMER, EVENTS_ALL)
        except BaseException:
            await self.on_stop()
            raise
        self.loop = BatchLoop(
            consumer,
            self.handle_batch,
            batch_size=self.config.monitor.batch_size,
            max_delay_s=self.config.monitor.max_delay_s,
            name=self.name,
        )
        self.loop.start()

    async def on_stop(self) -> None:
        if self.loop is not None:
            await self.loop.stop(self._stop_deadline_s)
            await self.loop.consumer.close()
            self.loop = None
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        if self.book is not None:
            await self.book.close()
            self.book = None
        if self._registry is not None:
            await self._registry.close()
            self._registry = None

    # ---- the feedback join -----------------------------------------------------------------------
    async def handle_batch(self, batch: list[DurableMsg]) -> None:
        """Apply a batch in stream order: predictions are stored before a later result is joined."""
        assert self.book is not None
        predictions: list[PredictionEvent] = []
        for m in batch:
            if m.subject == EVENTS_PREDICTION:
                event = self._decode(m, self._pred_decoder)
                if isinstance(event, PredictionEvent):
                    predictions.append(event)
                    continue
                if event is not None:
                    await self._bad(m, event)
            elif m.subject == EVENTS_GAMES:
                results = self._decode(m, self._games_decoder)
                if isinstance(results, GamesIngested):
                    await self.book.add_predictions(predictions)
                    predictions = []
                    await self._join(m, results)
                elif results is not None:
                    await self._bad(m, results)
            # Other nba.events.* subjects are not the monitor's business: acked with the batch.
        await self.book.add_predictions(predictions)

    def _decode(self, m: DurableMsg, decoder: Any) -> Any:
        try:
            event = decoder.decode(m.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return f"malformed event on {m.subject}: {exc}"
        if isinstance(event, PredictionEvent):
            return event_problem(event) or event
        if isinstance(event, GamesIngested) and not (event.game_ids or (event.date_from and event.date_to)):
            return "GamesIngested names no games and no date range"
        return event

    async def _bad(self, m: DurableMsg, problem: str) -> None:
        self.bad += 1
        log.warning("monitor.bad_event", seq=m.seq, subject=m.subject, error=problem)
        await m.term()

    async def _join(self, m: DurableMsg, event: GamesIngested) -> None:
        assert self.book is not None
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
        assert self.book is not None
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
        detail = {
            "resolved": str(self.resolved),
            "bad_events": str(self.bad),
            "stream": self._stream.kind if self._stream else "closed",
        }
        if self.loop is not None:
            detail |= {"batches": str(self.loop.batches), "last_seq": str(self.loop.last_seq)}
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
