"""The cache's shared second level: a JetStream key-value bucket of predictions (NATS only).

The instance that takes a fill writes it; every instance *follows* the bucket
(a KV watcher) and copies what arrives into its own LRU, so a lookup never
waits on the network: an entry filled through one instance is a local hit on
all of them a moment later, and a new instance starts warm with what the
bucket holds. Purges (new results for a team) propagate the same way. The
bucket (in memory on the server) has the TTL as max age. Failures here only cost hits: they are logged
and the cache goes on with its first level.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import structlog
from nats.js import errors as js_errors
from nats.js.api import StorageType
from nats.js.kv import KV_DEL, KV_PURGE

from nbamcp.messages import CachedPrediction, GamePrediction, decode, encode
from nbamcp.serving.keys import team_filters

log = structlog.get_logger(__name__)
_PUT_CONCURRENCY = 64
_LIST_TIMEOUT_S = 2.0


class PredictionKv:
    def __init__(self, kv: Any) -> None:
        self._kv = kv
        self._watcher: Any = None
        self.errors = 0

    @classmethod
    async def open(cls, bus: Any, bucket: str, *, ttl_s: float) -> PredictionKv | None:
        """The bucket (created when missing); None, with a warning, when JetStream refuses."""
        js = bus.jetstream()
        try:
            try:
                # Memory storage: a cache needs no disk, and writes stay cheap for the server.
                kv = await js.create_key_value(
                    bucket=bucket, ttl=ttl_s, history=1, storage=StorageType.MEMORY
                )
            except js_errors.BadRequestError:
                kv = await js.key_value(bucket)  # exists with another config: use it as it is
        except Exception as exc:  # boundary: no L2 is a slower cache, not a broken one
            log.warning("cache.kv_unavailable", bucket=bucket, error=str(exc) or type(exc).__name__)
            return None
        log.info("cache.kv_ready", bucket=bucket, ttl_s=ttl_s)
        return cls(kv)

    async def follow(
        self, on_put: Callable[[str, GamePrediction, float], None], on_gone: Callable[[str], None]
    ) -> None:
        """Call ``on_put(key, prediction, age_s)`` / ``on_gone(key)`` for each change, until ``close``.

        Starts with the latest value of every key the bucket holds.
        """
        try:
            self._watcher = watcher = await self._kv.watchall()
        except Exception as exc:  # boundary: see the module docstring
            self.errors += 1
            log.warning("cache.kv_follow_failed", error=str(exc) or type(exc).__name__)
            return
        async for entry in watcher:
            if entry is None:  # the bucket's current content has been replayed
                continue
            if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                on_gone(entry.key)
                continue
            try:
                prediction = decode(entry.value, GamePrediction)
            except msgspec.MsgspecError:
                continue  # written by another version of the code
            created = entry.created
            age = (dt.datetime.now(dt.UTC) - created).total_seconds() if created is not None else 0.0
            on_put(entry.key, prediction, max(age, 0.0))

    async def close(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):  # the connection may already be gone
                await self._watcher.stop()

    async def put_many(self, entries: Sequence[CachedPrediction]) -> None:
        sem = asyncio.Semaphore(_PUT_CONCURRENCY)

        async def put(e: CachedPrediction) -> None:
            async with sem:
                try:
                    await self._kv.put(e.key, encode(e.prediction))
                except Exception as exc:  # boundary: see the module docstring
                    self.errors += 1
                    log.warning("cache.kv_put_failed", key=e.key, error=str(exc) or type(exc).__name__)

        await asyncio.gather(*(put(e) for e in entries))

    async def purge_teams(self, teams: Sequence[str]) -> int:
        """Purge every key of these teams; return how many."""
        keys: set[str] = set()
        for team in teams:
            for pattern in team_filters(team):
                keys.update(await self._keys(pattern))
        for key in keys:
            try:
                await self._kv.purge(key)
            except Exception as exc:  # boundary: see the module docstring
                self.errors += 1
                log.warning("cache.kv_purge_failed", key=key, error=str(exc) or type(exc).__name__)
        return len(keys)

    async def _keys(self, pattern: str) -> list[str]:
        try:
            watcher = await self._kv.watch(pattern, ignore_deletes=True, meta_only=True)
        except Exception as exc:  # boundary: see the module docstring
            self.errors += 1
            log.warning("cache.kv_list_failed", pattern=pattern, error=str(exc) or type(exc).__name__)
            return []
        out = []
        try:
            while True:
                entry = await watcher.updates(timeout=_LIST_TIMEOUT_S)
                if entry is None:  # end of what the bucket holds now
                    break
                out.append(entry.key)
        except Exception as exc:  # boundary: see the module docstring
            self.errors += 1
            log.warning("cache.kv_list_failed", pattern=pattern, error=str(exc) or type(exc).__name__)
        finally:
            await watcher.stop()
        return out
