"""The receivers' side of the rosters dataset: every season's roster priors, replayed then followed.

``RosterReplica.run(on_change)`` watches the bucket's ``rosters.*`` entries (written by
``nbamcp.dataplane.roster_announce``): the replay is ONE change, handed over before
``caught_up`` is set, then each season the stats worker writes again (a trade, a live roster
fetched, new player tables) is one change. ``book()`` is the ``RosterBook`` of what it holds
(``RosterBook.from_priors``): the same strengths, the same features as the stats worker's own
book; ``version`` names that content (part of the cache key and of the workers' snapshots).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from nbamcp.bus.kv import KeyValue
from nbamcp.endpoints import ROSTERS_DATASET as ROSTERS
from nbamcp.errors import NbaError
from nbamcp.messages import RosterPriors, decoder_for, encode
from nbamcp.ml.rosters import RosterBook

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 30.0

OnRosters = Callable[[list[int]], Awaitable[None]]  # the seasons that changed


def priors_version(priors: dict[int, RosterPriors]) -> str:
    """A short name of every season's priors ('' for none: a book with no rosters)."""
    if not priors:
        return ""
    h = hashlib.sha256()
    for season in sorted(priors):
        h.update(encode(priors[season]))
    return h.hexdigest()[:16]


class RosterReplica:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.priors: dict[int, RosterPriors] = {}
        self._decoder = decoder_for(RosterPriors)
        self.caught_up = asyncio.Event()

    @property
    def version(self) -> str:
        return priors_version(self.priors)

    def book(self) -> RosterBook:
        return RosterBook.from_priors([self.priors[s] for s in sorted(self.priors)])

    async def run(self, on_change: OnRosters) -> None:
        """Replay, then follow, until cancelled; a lost watch is opened again (with back-off)."""
        backoff = 0.5
        while True:
            try:
                await self._follow(on_change)
                backoff = 0.5
            except NbaError as exc:
                log.warning("replica.watch_failed", dataset=ROSTERS.name, code=exc.code, error=exc.message)
                await asyncio.sleep(backoff)  # a real pause: the bucket's server is away
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _follow(self, on_change: OnRosters) -> None:
        watch = await self.kv.watch(ROSTERS.pattern)
        replay: list[int] = []
        try:
            async for entry in watch:
                if entry is None:
                    if not self.caught_up.is_set():
                        await on_change(sorted(set(replay)))
                        self.caught_up.set()
                        log.info("replica.caught_up", dataset=ROSTERS.name, seasons=len(self.priors))
                    continue
                season = self._apply(entry.key, entry.value, entry.deleted)
                if season is None:
                    continue
                if self.caught_up.is_set():
                    await on_change([season])
                else:
                    replay.append(season)
        finally:
            await watch.stop()

    def _apply(self, key: str, value: bytes, deleted: bool) -> int | None:
        try:
            season = int(key.removeprefix(f"{ROSTERS.name}."))
        except ValueError:
            log.warning("replica.bad_key", key=key)
            return None
        if deleted:
            return season if self.priors.pop(season, None) is not None else None
        try:
            priors = self._decoder.decode(value)
        except msgspec.MsgspecError as exc:
            log.warning("replica.bad_partition", key=key, error=str(exc))
            return None
        if self.priors.get(season) == priors:
            return None
        self.priors[season] = priors
        return season
