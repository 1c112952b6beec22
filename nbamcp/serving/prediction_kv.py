"""The cache's shared second level: a key-value bucket of predictions, shared by every cache instance.

The bucket is the ``KeyValue`` seam (``nbamcp.bus.kv``): a JetStream KV bucket in the
server's memory on NATS (every cache process shares it), its in-process twin on the
in-memory bus. The instance that takes a fill writes it; every instance *follows*
the bucket (a watch) and copies what arrives into its own LRU, so a lookup never
waits on the network: an entry filled through one instance is a local hit on all
of them a moment later, and a new instance starts warm with what the bucket
holds. Purges (new results for a team) propagate the same way. The bucket has the
cache's TTL as max age and ``cache.kv_max_mb`` as its size (the oldest go first).
Failures here only cost hits: they are logged and the cache goes on with its first level.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import msgspec
import structlog

from nbamcp.bus.kv import BucketSettings, KeyValue, KvWatch
from nbamcp.bus.stores import Stores
from nbamcp.errors import NbaError
from nbamcp.messages import CachedPrediction, GamePrediction, decode, encode
from nbamcp.serving.keys import team_filters

log = structlog.get_logger(__name__)
_PUT_CONCURRENCY = 64
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0


class PredictionKv:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._watch: KvWatch | None = None
        self._closed = False
        self.errors = 0
        self.watches = 0  # watches opened: more than one means the bucket came back after an outage

    @property
    def bucket(self) -> str:
        return self._kv.settings.name

    @classmethod
    async def open(
        cls, stores: Stores, bucket: str, *, ttl_s: float, max_bytes: int | None = None
    ) -> PredictionKv | None:
        """The bucket (created when missing); None, with a warning, when it cannot be had."""
        settings = BucketSettings(
            bucket, ttl_s=ttl_s, memory=True, description="nbamcp prediction cache", max_bytes=max_bytes
        )
        try:
            kv = await stores.kv(settings)
        except NbaError as exc:  # no L2 is a slower cache, not a broken one
            log.warning("cache.kv_unavailable", bucket=bucket, error=exc.message)
            return None
        log.info("cache.kv_ready", bucket=bucket, ttl_s=ttl_s, kind=kv.kind)
        return cls(kv)

    async def follow(
        self, on_put: Callable[[str, GamePrediction, float], None], on_gone: Callable[[str], None]
    ) -> None:
        """Call ``on_put(key, prediction, age_s)`` / ``on_gone(key)`` for each change, until ``close``.

        Starts with the latest value of every key the bucket holds. A watch that ends
        without ``close`` (NATS came back, maybe without the bucket) is opened again.
        """
        backoff = _FIRST_BACKOFF_S
        while not self._closed:
            try:
                self._watch = watch = await self._kv.watch()
            except NbaError as exc:
                self.errors += 1
                log.warning("cache.kv_follow_failed", error=exc.message, retry_in_s=backoff)
                await asyncio.sleep(backoff)  # a real pause: the bucket's server is away
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            backoff = _FIRST_BACKOFF_S
            self.watches += 1
            await self._follow(watch, on_put, on_gone)

    async def _follow(
        self,
        watch: KvWatch,
        on_put: Callable[[str, GamePrediction, float], None],
        on_gone: Callable[[str], None],
    ) -> None:
        async for entry in watch:
            if entry is None:  # the bucket's current content has been replayed
                continue
            if entry.deleted or not entry.value:
                on_gone(entry.key)
                continue
            try:
                prediction = decode(entry.value, GamePrediction)
            except msgspec.MsgspecError:
                continue  # written by another version of the code
            age = time.time() - entry.created if entry.created else 0.0
            on_put(entry.key, prediction, max(age, 0.0))

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            await self._watch.stop()

    async def put_many(self, entries: Sequence[CachedPrediction]) -> None:
        sem = asyncio.Semaphore(_PUT_CONCURRENCY)

        async def put(e: CachedPrediction) -> None:
            async with sem:
                try:
                    await self._kv.put(e.key, encode(e.prediction))
                except NbaError as exc:  # see the module docstring
                    self.errors += 1
                    log.warning("cache.kv_put_failed", key=e.key, error=exc.message)

        await asyncio.gather(*(put(e) for e in entries))

    async def purge_teams(self, teams: Sequence[str]) -> int:
        """Purge every key of these teams; return how many."""
        keys: set[str] = set()
        for team in teams:
            for pattern in team_filters(team):
                try:
                    keys.update(await self._kv.keys(pattern))
                except NbaError as exc:
                    self.errors += 1
                    log.warning("cache.kv_list_failed", pattern=pattern, error=exc.message)
        for key in keys:
            try:
                await self._kv.purge(key)
            except NbaError as exc:
                self.errors += 1
                log.warning("cache.kv_purge_failed", key=key, error=exc.message)
        return len(keys)
