"""The cache worker: recent predictions by canonical key, and the Elo baseline when inference is down.

Sits beside the inference worker; the front end asks it first and sends only
the misses to inference. Subjects:

- ``nba.predict.lookup`` (request/reply, queue "cache"): PredictRequest ->
  CacheLookupReply, one hit (flagged ``cached``) or None per game. Games are
  canonicalized exactly as inference does (so bad input fails here with the
  same error) and keyed by model version + canonical game + how many results
  of each team the features saw (``nbamcp.serving.keys``). Hits are logged as
  PredictionEvents with ``cached=True``.
- ``nba.predict.served`` (event, queue "cache"): fresh model predictions from
  inference fill the LRU (and the NATS KV bucket).
- ``nba.predict.baseline`` (request/reply, queue "cache"): PredictRequest ->
  PredictReply from the Elo baseline (``source="baseline"``): what the front
  end falls back to when no inference worker answers. It needs no model and no
  onnxruntime, only the live feature state the cache keeps anyway for its keys.
- ``nba.models.changed`` (broadcast): drop every entry, re-read the aliases
  (from the trainer, ``nba.models.serving``); an alias announced again at the
  version it has changes nothing. After a reconnect to the bus it asks once more:
  an announcement made while it was away never arrives.
- the games dataset (a replica of the data bucket, ``nbamcp.serving.live_games``,
  snapshot in its own home): the feature state for keys and the baseline; each
  change drops the entries of the teams it touched.
- ``nba.events.games`` (queue "cache"): one instance purges those teams from L2.

Levels: L1 is a per-instance LRU with TTL; L2 is a key-value bucket shared by
every cache instance (``cache.kv_bucket``, its own TTL: a JetStream KV bucket on
NATS, the in-process twin in one process). Each instance follows the bucket and
copies its entries into L1, so lookups never wait on the network; a hit on an
entry that came through the bucket counts as an L2 hit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import msgspec
import numpy as np
import structlog

from nbamcp import endpoints as ep
from nbamcp.actor import Actor, Context, Route, WorkerContext
from nbamcp.dataplane.replica import GamesChange
from nbamcp.errors import NbaError, Unavailable
from nbamcp.messages import (
    CacheLookupReply,
    GamePrediction,
    GamesIngested,
    ModelsChanged,
    PredictionsServed,
    PredictReply,
    PredictRequest,
    encode,
)
from nbamcp.ops import metrics
from nbamcp.serving.canonical import Today, canonicalize_all
from nbamcp.serving.event_log import PredictionEventLog
from nbamcp.serving.idempotency import IdempotencyMap
from nbamcp.serving.keys import key_teams
from nbamcp.serving.live_features import LiveFeatures
from nbamcp.serving.live_games import LiveGames, open_live_games
from nbamcp.serving.lru import TtlLru
from nbamcp.serving.model_source import BusModelSource, ModelSource
from nbamcp.serving.prediction_kv import PredictionKv
from nbamcp.serving.scoring import (
    baseline_scores,
    build_prediction,
    cache_key_for,
    prediction_events,
    with_age,
)

log = structlog.get_logger(__name__)

HITS = metrics.CACHE_HITS
MISSES = metrics.CACHE_MISSES


class CacheWorker(Actor):
    name = "cache"

    source: ModelSource
    games: LiveGames

    def __init__(
        self, ctx: WorkerContext, *, today: Today = dt.date.today, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(ctx)
        config = ctx.config
        self.settings = settings = config.cache
        self.inference = inference = config.inference
        self._today = today
        ev = config.events
        self.events = PredictionEventLog(
            ctx.events,
            max_events=ev.group_size,
            max_delay_s=ev.group_delay_s,
            max_in_flight=ev.groups_in_flight,
            link=ctx.bus.link,
        )
        # value: (prediction, came through the shared KV level)
        self.lru: TtlLru[tuple[GamePrediction, bool]] = TtlLru(
            settings.max_entries, settings.ttl_s, clock=clock
        )
        self.kv: PredictionKv | None = None
        self.aliases: dict[str, int] = {}
        bounds = {"max_entries": inference.idempotency_entries, "max_bytes": inference.idempotency_max_bytes}
        self._idem_lookup = IdempotencyMap(CacheLookupReply, **bounds)
        self._idem_baseline = IdempotencyMap(PredictReply, **bounds)
        self.hits_l1 = self.hits_l2 = self.misses = self.fills = self.invalidated = self.from_kv = 0
        self.baseline_served = 0
        # Set after each fill / invalidation: tests and benchmarks await them instead of polling.
        self.filled = asyncio.Event()
        self.kv_changed = asyncio.Event()
        self.models_changed = asyncio.Event()
        # One question to the trainer at a time: a late answer to an earlier one must not undo a newer.
        self._aliases_lock = asyncio.Lock()

    @property
    def live(self) -> LiveFeatures:
        return self.games.live

    @property
    def features_changed(self) -> asyncio.Event:
        """Set after the next change of the games is applied."""
        return self.games.changed

    def routes(self) -> list[Route]:
        return [
            Route(ep.PREDICT_LOOKUP, self.lookup),
            Route(ep.PREDICT_BASELINE, self.baseline),
            Route(ep.PREDICT_SERVED, self.fill),
            Route(ep.MODELS_CHANGED, self.on_models_changed),
            # One instance purges the shared level (the group); every one drops its own LRU
            # entries when its replica of the games changes.
            Route(ep.GAMES_INGESTED, self.purge_shared, queue=self.name),
        ]

    async def on_start(self) -> None:
        if self.config.events.journal:
            # Before any request: what a killed process of this worker left unsent goes out again.
            self.events.open_journal(self.config.journal_dir(self.name), self.name)
            self.spawn(self.events.recover(), name="events-recover")
        self.games = await open_live_games(
            self.ctx.stores, self.config, worker=self.name, spawn=lambda c, n: self.spawn(c, name=n),
            on_change=self._games_changed,
        )  # fmt: skip
        objects = await self.ctx.stores.objects(self.config.data.models_bucket)
        self.source = BusModelSource(
            self.bus, objects, self.config.model_cache_dir, worker=self.name,
            timeout_s=self.config.bus.request_timeout_s,
        )  # fmt: skip
        await self._refresh_aliases("start")
        if self.settings.kv_bucket:
            self.kv = await PredictionKv.open(
                self.ctx.stores, self.settings.kv_bucket, ttl_s=self.settings.ttl_s,
                max_bytes=int(self.settings.kv_max_mb * 2**20),
            )  # fmt: skip
            if self.kv is not None:
                self.close_with(self.kv.close)
                self.spawn(self.kv.follow(self._from_kv, self._gone_from_kv), name="kv-follow")

    async def on_subscribed(self) -> None:
        # A promotion announced between the start's question and the subscription reached nobody.
        await self._refresh_aliases("subscribed")

    async def on_recovered(self) -> None:
        # A promotion announced while this process was away from the bus reached nobody here: its
        # keys would name the old versions, and no fill of inference's would ever be hit again.
        await self._refresh_aliases("recovered")

    async def on_stop(self) -> None:
        await self.events.flush(self.remaining_s())
        self.events.close()
        await self.games.save()

    async def _refresh_aliases(self, why: str) -> None:
        async with self._aliases_lock:
            try:
                self.aliases = dict((await self.source.serving(self.inference.model_name)).aliases)
            except NbaError as exc:  # no trainer yet: keys wait for one (no champion, no hits)
                log.info("cache.aliases_unavailable", why=why, code=exc.code, error=exc.message)
            log.info("cache.aliases", why=why, aliases=self.aliases)

    def _from_kv(self, key: str, prediction: GamePrediction, age_s: float) -> None:
        remaining = self.settings.ttl_s - age_s
        if remaining > 0 and key not in self.lru:  # our own fills come back too: keep them as they are
            self.lru.put(key, (prediction, True), key_teams(key), ttl_s=remaining)
            self.from_kv += 1
        self.kv_changed.set()
        self.kv_changed = asyncio.Event()

    def _gone_from_kv(self, key: str) -> None:
        self.invalidated += self.lru.drop(key)
        self.kv_changed.set()
        self.kv_changed = asyncio.Event()

    # ---- lookups ---------------------------------------------------------------------------------
    def _versions(self) -> tuple[int, int | None] | None:
        champion = self.aliases.get("champion")
        if champion is None:
            return None
        # Shadow and canary score the challenger: their entries are keyed by both versions (canary
        # games are never cached: they miss here and the inference worker answers them, sticky).
        challenger = self.aliases.get("challenger") if self.inference.traffic != "champion" else None
        return champion, None if challenger == champion else challenger

    async def lookup(self, req: PredictRequest, ctx: Context) -> CacheLookupReply:
        return await self._idem_lookup.run(ctx.request_id, encode(req), lambda: self._lookup(req, ctx))

    async def _lookup(self, req: PredictRequest, ctx: Context) -> CacheLookupReply:
        started = time.perf_counter()
        games = canonicalize_all(
            req.games, today=self._today(), max_slate=self.inference.max_slate,
            next_meeting=self.games.schedule.next_meeting,
        )  # fmt: skip
        versions = self._versions()
        if versions is None or not len(self.live):
            self.misses += len(games)
            MISSES.inc(len(games))
            return CacheLookupReply(hits=[None] * len(games))
        model = self.inference.model_name
        hits: list[GamePrediction | None] = []
        for g in games:
            # The key from the game and the result counts alone: no features for a look-up.
            game, results, age = self.live.keyed(g)
            key = cache_key_for(game, results, age, model, *versions, rosters=self.live.rosters_version)
            entry = self.lru.get(key)
            if entry is None:
                self.misses += 1
                MISSES.inc()
                hits.append(None)
                continue
            pred, shared = entry
            if shared:
                self.hits_l2 += 1
                HITS.labels("l2").inc()
            else:
                self.hits_l1 += 1
                HITS.labels("l1").inc()
            # The entry may come from a call that named the date: say whether this one did not.
            hits.append(
                msgspec.structs.replace(
                    with_age(pred, age), cached=True, scheduled_game_id=g.scheduled or None
                )
            )
        latency_ms = (time.perf_counter() - started) * 1e3
        self.events.log(
            ctx.request_id,
            [
                event
                for hit in hits
                if hit is not None
                for event in prediction_events(
                    ctx.request_id,
                    hit,
                    latency_ms=latency_ms,
                    client=req.client,
                    cached=True,
                    tenant=ctx.tenant,
                )
            ],
        )
        return CacheLookupReply(hits=hits)

    async def fill(self, msg: PredictionsServed, ctx: Context) -> None:
        for entry in msg.entries:
            self.lru.put(entry.key, (entry.prediction, False), key_teams(entry.key))
            self.fills += 1
        if self.kv is not None:
            await self.kv.put_many(msg.entries)
        self.filled.set()
        self.filled = asyncio.Event()
        self.kv_changed = asyncio.Event()

    # ---- the baseline ------------------------------------------------------------------------------
    async def baseline(self, req: PredictRequest, ctx: Context) -> PredictReply:
        return await self._idem_baseline.run(ctx.request_id, encode(req), lambda: self._baseline(req, ctx))

    async def _baseline(self, req: PredictRequest, ctx: Context) -> PredictReply:
        started = time.perf_counter()
        games = canonicalize_all(
            req.games, today=self._today(), max_slate=self.inference.max_slate,
            next_meeting=self.games.schedule.next_meeting,
        )  # fmt: skip
        if not len(self.live):
            raise Unavailable(
                "no game results to compute the baseline from yet: the stats worker publishes them"
            )
        resolved = self.live.resolve(games)
        scores = baseline_scores(np.vstack([r.x for r in resolved]))
        top_k = self.inference.top_contributions
        preds = [build_prediction(r, s, top_k=top_k) for r, s in zip(resolved, scores, strict=True)]
        latency_ms = (time.perf_counter() - started) * 1e3
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
        self.baseline_served += len(preds)
        return PredictReply(request_id=ctx.request_id, predictions=preds, traffic="baseline")

    # ---- invalidation ------------------------------------------------------------------------------
    async def on_models_changed(self, msg: ModelsChanged, ctx: Context) -> None:
        if msg.name != self.inference.model_name:
            return
        # The trainer announces every alias again at its start and after a recovery: the same
        # versions key the same entries, which stay.
        if self.aliases.get(msg.alias) != msg.version:
            self.invalidated += self.lru.clear()
            # Keys carry the versions, so KV entries of the old model can no longer be hit; they expire.
            self.aliases[msg.alias] = msg.version
            await self._refresh_aliases(f"{msg.alias} -> v{msg.version}")
        self.models_changed.set()
        self.models_changed = asyncio.Event()

    async def _games_changed(self, change: GamesChange) -> None:
        # Keys count each team's results, so old entries can no longer be hit; dropping them frees room.
        self.invalidated += self.lru.drop_teams(change.teams)

    async def purge_shared(self, msg: GamesIngested, ctx: Context) -> None:
        if self.kv is not None:
            await self.kv.purge_teams(msg.teams)

    def health_detail(self) -> dict[str, str]:
        lookups = self.hits_l1 + self.hits_l2 + self.misses
        return {
            "entries": str(len(self.lru)),
            "hits_l1": str(self.hits_l1),
            "hits_l2": str(self.hits_l2),
            "misses": str(self.misses),
            "hit_rate": f"{(self.hits_l1 + self.hits_l2) / lookups:.3f}" if lookups else "0",
            "fills": str(self.fills),
            "from_kv": str(self.from_kv),
            "invalidated": str(self.invalidated),
            "evicted": str(self.lru.evicted),
            "expired": str(self.lru.expired),
            "l2": f"{self.ctx.stores.kind} kv {self.kv.bucket}" if self.kv is not None else "off",
            "l2_errors": str(self.kv.errors if self.kv is not None else 0),
            "l2_watches": str(self.kv.watches if self.kv is not None else 0),
            "baseline_served": str(self.baseline_served),
            "idempotency_bytes": str(self._idem_lookup.bytes + self._idem_baseline.bytes),
            "champion": str(self.aliases.get("champion", "none")),
        }
