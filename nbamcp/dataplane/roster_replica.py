"""The receivers' side of the rosters dataset: every season's roster priors, replayed then followed.

``RosterReplica.run(on_change)`` watches the bucket's ``rosters.*`` entries (written by
``nbamcp.dataplane.roster_announce``): the replay is ONE change, handed over before
``caught_up`` is set, then each season the stats worker writes again (a trade, a live roster
fetched, new player tables) is one change. ``book()`` is the ``RosterBook`` of what it holds
(``RosterBook.from_priors``): the same strengths, the same features as the stats worker's own
book; ``version`` names that content (part of the cache key and of the workers' snapshots).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import structlog

from nbamcp.bus.kv import KeyValue, KvEntry
from nbamcp.dataplane.follow import DatasetFollower
from nbamcp.endpoints import ROSTERS_DATASET as ROSTERS
from nbamcp.messages import RosterPriors, encode
from nbamcp.ml.rosters import RosterBook

log = structlog.get_logger(__name__)

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
        self._follower = DatasetFollower(
            kv, ROSTERS, self._apply, _seasons, size=lambda: {"seasons": len(self.priors)}
        )
        self.caught_up = self._follower.caught_up

    @property
    def version(self) -> str:
        return priors_version(self.priors)

    def book(self) -> RosterBook:
        return RosterBook.from_priors([self.priors[s] for s in sorted(self.priors)])

    async def run(self, on_change: OnRosters) -> None:
        """Replay, then follow, until cancelled; a lost watch is opened again (with back-off)."""
        await self._follower.run(on_change)

    def _apply(self, key: str, entry: KvEntry, priors: RosterPriors | None) -> list[int] | None:
        try:
            season = int(key)
        except ValueError:
            log.warning("replica.bad_key", key=entry.key)
            return None
        if priors is None:
            return [season] if self.priors.pop(season, None) is not None else None
        if self.priors.get(season) == priors:
            return None
        self.priors[season] = priors
        return [season]


def _seasons(changes: list[list[int]]) -> list[int]:
    return sorted({season for change in changes for season in change})
