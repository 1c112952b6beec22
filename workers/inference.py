"""The inference worker: game predictions from the registry's champion, micro-batched.

Subjects:
- ``nba.predict`` (request/reply, queue "inference"): PredictRequest -> PredictReply.
  Several instances share the load as one queue group.
- ``nba.models.changed`` (broadcast: every instance): reload the champion and
  challenger. The new sessions are loaded (artifact hash verified) before one
  attribute swap; requests in flight finish on the models they started with. An
  announcement of what is loaded already (the trainer's start, a recovery) loads nothing.
  A reload that finds nobody to ask (the trainer not up yet, the bus away) is
  tried again, 1 s doubling to 30 s, until the trainer itself answers (an answer
  from the worker's own last-known record serves meanwhile); a refused artifact
  waits for the next announcement. After a reconnect to the bus it asks once more: an
  announcement made while it was away never arrives.
- ``nba.events.games`` (broadcast): new results from the store feed the live
  feature state (the training feature code), so the next prediction sees them.

Publishes a PredictionEvent per prediction on ``nba.events.prediction`` through
the durable stream (the challenger's too, in the default shadow traffic mode:
same request id, its own name and version; in "canary" traffic the challenger
answers ``canary_share`` of the games, sticky per game, with the champion logged
beside it: ``nbamcp.serving.canary``; "ab" the same with ``ab_share``) and the fresh predictions on
``nba.predict.served`` for the cache (after the reply, in groups: ``nbamcp.serving.cache_offers``).
With no champion in the registry it answers from the Elo baseline, flagged ``source="baseline"``.
The same request id gets the same reply and is published once (bounded map).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import TYPE_CHECKING

import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Route, WorkerContext
from nbamcp.errors import IntegrityError, NbaError, Unavailable
from nbamcp.messages import (
    CachedPrediction,
    ModelsChanged,
    PredictionsServed,
    PredictReply,
    PredictRequest,
    encode,
)
from nbamcp.ops import metrics
from nbamcp.serving.batcher import MicroBatcher
from nbamcp.serving.cache_offers import CacheOffers
from nbamcp.serving.canary import serve_canary
from nbamcp.serving.canonical import Today, canonicalize_all
from nbamcp.serving.event_log import PredictionEventLog
from nbamcp.serving.idempotency import IdempotencyMap
from nbamcp.serving.live_features import LiveFeatures, ResolvedGame
from nbamcp.serving.live_games import LiveGames, open_live_games
from nbamcp.serving.model_source import BusModelSource, ModelSource
from nbamcp.serving.models import ModelSet, load_model_set
from nbamcp.serving.retry import retry_until
from nbamcp.serving.scoring import RowScore, build_prediction, cache_key_for, prediction_events, score_rows

if TYPE_CHECKING:
    import numpy as np


log = structlog.get_logger(__name__)


class InferenceWorker(Actor):
    name = "inference"

    source: ModelSource
    games: LiveGames

    def __init__(self, ctx: WorkerContext, *, today: Today = dt.date.today) -> None:
        super().__init__(ctx)
        config = ctx.config
        self.settings = settings = config.inference
        self._today = today
        ev = config.events
        self.events = PredictionEventLog(
            ctx.events,
            max_events=ev.group_size,
            max_delay_s=ev.group_delay_s,
            max_in_flight=ev.groups_in_flight,
            link=ctx.bus.link,
        )
        # Fresh predictions for the cache go out after the reply (nbamcp.serving.cache_offers).
        self.offers = CacheOffers(self._send_offer)
        self.models = ModelSet()
        self.batcher: MicroBatcher[np.ndarray, RowScore] = MicroBatcher(
            self._score,
            max_batch=settings.max_batch_size,
            max_wait_s=settings.max_wait_ms / 1e3,
            max_requests=self.config.workers.concurrency,  # no more can be in flight here at once
        )
        self._idem = IdempotencyMap(
            PredictReply, max_entries=settings.idempotency_entries, max_bytes=settings.idempotency_max_bytes
        )
        self._reload_lock = asyncio.Lock()
        self.reloads = 0
        self.reload_error = ""
        # Why the registry's champion is not what serves (its artifact refused): "" when it is.
        self.refused = ""
        # A reload failed for a reason a later try may not meet (nobody answered): one is due.
        self._reload_due = False
        self._retrying: asyncio.Task[None] | None = None
        self.predictions = 0
        # Set after each reload: tests and benchmarks await it instead of sleeping.
        self.models_changed = asyncio.Event()

    def routes(self) -> list[Route]:
        return [
            Route(ep.PREDICT, self.predict),
            Route(ep.MODELS_CHANGED, self.on_models_changed),
        ]

    @property
    def live(self) -> LiveFeatures:
        return self.games.live

    @property
    def features_changed(self) -> asyncio.Event:
        """Set after the next change of the games is applied."""
        return self.games.changed

    async def on_start(self) -> None:
        if self.config.events.journal:
            # Before any request: what a killed process of this worker left unsent goes out again.
            self.events.open_journal(self.config.journal_dir(self.name), self.name)
            self.spawn(self.events.recover(), name="events-recover")
        objects = await self.ctx.stores.objects(self.config.data.models_bucket)
        self.source = BusModelSource(
            self.bus, objects, self.config.model_cache_dir, worker=self.name,
            timeout_s=self.config.bus.request_timeout_s,
        )  # fmt: skip
        self.games = await open_live_games(
            self.ctx.stores, self.config, worker=self.name, spawn=lambda c, n: self.spawn(c, name=n)
        )
        await self._reload("start")
        log.info(
            "inference.ready",
            games=len(self.live),
            latest=self.live.latest_date,
            champion=self.models.champion.describe() if self.models.champion else "none (Elo baseline)",
        )

    async def on_subscribed(self) -> None:
        # A promotion announced between the start's question to the trainer and the subscription
        # to the announcements reached nobody: ask once more, now that the next one cannot be missed.
        await self._reload("subscribed", only_if_changed=True)

    async def on_recovered(self) -> None:
        # An announcement made while this process was away from the bus reached nobody here (NATS
        # keeps nothing for a client that is reconnecting, and nobody announces it again): ask.
        await self._reload("recovered", only_if_changed=True)

    # ---- predictions -----------------------------------------------------------------------------
    async def predict(self, req: PredictRequest, ctx: Context) -> PredictReply:
        return await self._idem.run(ctx.request_id, encode(req), lambda: self._predict(req, ctx))

    async def _predict(self, req: PredictRequest, ctx: Context) -> PredictReply:
        started = time.perf_counter()
        games = canonicalize_all(
            req.games, today=self._today(), max_slate=self.settings.max_slate,
            next_meeting=self.games.schedule.next_meeting,
        )  # fmt: skip
        if not len(self.live):
            raise Unavailable(
                "no game results to compute features from yet: the stats worker publishes them once "
                "it has ingested the games"
            )
        live = self.live  # one state for the whole slate (a rebuild may swap it while we wait)
        resolved = live.resolve(games)
        scores = await self.batcher.submit([r.x for r in resolved])
        share = self.settings.challenger_share()  # canary and ab: a sticky share of the games
        if share > 0.0:
            scores = serve_canary(scores, [r.game for r in resolved], share)
        top_k = self.settings.top_contributions
        preds = [build_prediction(r, s, top_k=top_k) for r, s in zip(resolved, scores, strict=True)]
        reply = PredictReply(
            request_id=ctx.request_id,
            predictions=preds,
            traffic=self.settings.traffic,
            degraded=bool(self.refused),
            degraded_reason=self.degraded_reason(),
        )
        latency_ms = (time.perf_counter() - started) * 1e3
        # Logged only once the whole slate is ready: an error above logs nothing.
        self.events.log(
            ctx.request_id,
            [
                event
                for p in preds
                for event in prediction_events(
                    ctx.request_id, p, latency_ms=latency_ms, client=req.client, tenant=ctx.tenant
                )
            ],
        )
        self._offer_to_cache(resolved, preds, scores, live.rosters_version)
        self.predictions += len(preds)
        return reply

    def _score(self, rows: list[np.ndarray]) -> list[RowScore]:
        # Runs inside the batcher's flush: the models of this moment score the whole batch.
        metrics.INFERENCE_BATCH.observe(len(rows))
        return score_rows(self.models, rows, shadow=self.settings.traffic != "champion")

    def _offer_to_cache(
        self, resolved: list[ResolvedGame], preds: list, scores: list[RowScore], rosters: str
    ) -> None:
        entries = []
        for r, p, s in zip(resolved, preds, scores, strict=True):
            if s.model is None or s.canary:
                # The baseline is a fallback, not worth caching; a canary answer is not keyed by
                # the champion (the cache's lookups find nothing and ask here again: still sticky).
                continue
            challenger = s.challenger[0].version if s.challenger is not None else None
            key = cache_key_for(
                r.game, (r.home_results, r.away_results), r.age, s.model.name, s.model.version, challenger,
                rosters=rosters,
            )  # fmt: skip
            entries.append(CachedPrediction(key, p))
        self.offers.offer(entries)

    async def _send_offer(self, msg: PredictionsServed) -> None:
        # A group holds the predictions of several requests: no one request id travels with it.
        await self.bus.publish(ep.PREDICT_SERVED.subject, encode(msg))

    # ---- model reloads ---------------------------------------------------------------------------
    async def on_models_changed(self, msg: ModelsChanged, ctx: Context) -> None:
        if msg.name != self.settings.model_name:
            return
        await self._reload(f"{msg.alias} -> v{msg.version}", announced=msg)

    def _serves(self, msg: ModelsChanged) -> bool:
        """Whether ``msg`` announces what is loaded already, loaded cleanly (the trainer announces
        every alias again at its start and after a recovery)."""
        if self.refused or self.reload_error or self._reload_due:
            return False  # something is amiss: the announcement is a reason to ask again
        loaded = {"champion": self.models.champion, "challenger": self.models.challenger}.get(msg.alias)
        return loaded is not None and loaded.version == msg.version

    async def _reload(
        self, why: str, *, only_if_changed: bool = False, announced: ModelsChanged | None = None
    ) -> None:
        async with self._reload_lock:
            if announced is not None and self._serves(announced):
                log.debug("inference.models_unchanged", why=why)
                return
            try:
                models = await load_model_set(
                    self.source,
                    self.settings.model_name,
                    current=self.models,
                    challenger=self.settings.traffic != "champion",
                    served=self.config.features.served,
                )
            except NbaError as exc:
                if only_if_changed:
                    # A catch-up that could not ask changes nothing yet: what is loaded serves, and
                    # the question is asked again (what it was to catch up on is announced no more).
                    log.warning("inference.catch_up_failed", why=why, code=exc.code, error=exc.message)
                    self._retry_later()
                    return
                # Keep serving what is loaded; health and every reply say so.
                self.reload_error = f"{exc.code}: {exc.message}"
                if isinstance(exc, IntegrityError):
                    # The registry names a champion whose artifact (or features) we refuse: asking
                    # again gets the same bytes; the next announcement is what may change them.
                    self.refused = self.reload_error
                    self._reload_due = False
                else:
                    self._retry_later()
                log.error("inference.reload_failed", why=why, code=exc.code, error=exc.message)
            else:
                if only_if_changed and not self.refused and _versions(models) == _versions(self.models):
                    self.reload_error = models.challenger_error
                    self._settle()
                    return
                self.models = models  # the swap: one attribute, between two batches
                self.reload_error = models.challenger_error
                self.refused = ""
                self._settle()
                self.reloads += 1
                metrics.set_model_info(
                    self.settings.model_name,
                    {
                        "champion": models.champion.version if models.champion else None,
                        "challenger": models.challenger.version if models.challenger else None,
                    },
                )
                log.info(
                    "inference.models",
                    why=why,
                    champion=models.champion.describe() if models.champion else "none",
                    challenger=models.challenger.describe() if models.challenger else "none",
                )
            self.models_changed.set()
            self.models_changed = asyncio.Event()

    def _settle(self) -> None:
        # What the worker's own record said (nobody answered) may be out of date: ask again.
        if self.source.last_known:
            self._retry_later()
        else:
            self._reload_due = False

    def _retry_later(self) -> None:
        # The trainer not up yet, or the bus away: the announcement that would have told us has
        # been and gone (or never comes, when nothing changes), so we ask again until one lands.
        self._reload_due = True
        if self._retrying is None or self._retrying.done():
            self._retrying = self.spawn(self._retry_reload(), name="reload-retry")

    async def _retry_reload(self) -> None:
        async def attempt(n: int) -> bool:
            if self._reload_due:  # an announcement in the pause may have loaded them
                # Only if changed: a retry of a catch-up must not reload what already serves.
                await self._reload(f"retry {n}", only_if_changed=True)
            return not self._reload_due

        await retry_until(attempt, what="inference reload")

    async def on_stop(self) -> None:
        await self.offers.flush(self.remaining_s())
        await self.events.flush(self.remaining_s())
        self.events.close()
        await self.games.save()

    def serving(self) -> str:
        """What answers predictions right now."""
        c = self.models.champion
        return f"{c.name} v{c.version}" if c is not None else "elo-baseline"

    def degraded_reason(self) -> str:
        if not self.refused:
            return ""
        return f"the registry's champion was refused ({self.refused}); {self.serving()} serves instead"

    def problems(self) -> list[str]:
        return [self.degraded_reason()] if self.refused else []

    def health_detail(self) -> dict[str, str]:
        m = self.models
        return {
            "serving": self.serving(),
            "refused": self.refused,
            "champion": m.champion.describe() if m.champion else "none (Elo baseline)",
            "challenger": m.challenger.describe() if m.challenger else "none",
            "traffic": self.settings.traffic,
            "games": str(len(self.live)),
            "latest_result": self.live.latest_date or "none",
            "features": "restored from the snapshot" if self.games.restored else "built from the replay",
            "feature_set": self.live.feature_set,
            "rosters": self.live.rosters_version or "none",
            "predictions": str(self.predictions),
            "reloads": str(self.reloads),
            "reload_error": self.reload_error,
            "idempotent_replays": str(self._idem.replays),
            "idempotency": f"{len(self._idem)} ids, {self._idem.replies} replies, {self._idem.bytes} bytes",
            "events": f"{self.events.published} published, {self.events.lost} lost",
            "events_recovered": str(self.events.recovered),
            "cache_offers": f"{self.offers.offered} sent in {self.offers.groups} groups, "
            f"{self.offers.failed} failed",
            **self.batcher.stats(),
        }


def _versions(models: ModelSet) -> tuple[str, str]:
    describe = [m.describe() if m is not None else "" for m in (models.champion, models.challenger)]
    return describe[0], describe[1]
