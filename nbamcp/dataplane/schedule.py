"""The schedule travels like the games: the stats worker writes it, the serving workers replay it.

``publish_schedule`` (the owner's side, called by the announcer) writes each season's
scheduled games, whole, into the data bucket under ``schedule.<season>`` when the
bucket's version differs, and purges the seasons the store no longer schedules.
``ScheduleReplica`` (the receivers' side: the inference and cache workers) replays the
bucket's ``schedule.*`` entries and follows them, and answers "when do these two teams
meet next?" so that a prediction with no date is for that game. The schedule is small
(~1,300 games a season) and only looked up: no snapshot, no change events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import structlog

from nbamcp.bus.kv import KeyValue, KvEntry
from nbamcp.data.schedule import schedule_partitions, schedule_version
from nbamcp.dataplane.follow import DatasetFollower
from nbamcp.endpoints import SCHEDULE_DATASET as SCHEDULE
from nbamcp.messages import ScheduledGame, SchedulePartition, decoder_for, encode

log = structlog.get_logger(__name__)


async def publish_schedule(kv: KeyValue, games: Sequence[ScheduledGame]) -> list[str]:
    """Make the bucket's schedule the store's: each changed season written, each dropped one purged."""
    by_season = schedule_partitions(games)
    decoder = decoder_for(SchedulePartition)
    written = []
    for key, rows in sorted(by_season.items()):
        version = schedule_version(rows)
        entry = await kv.get(SCHEDULE.key(key))
        if entry is not None:
            try:
                if decoder.decode(entry.value).version == version:
                    continue
            except msgspec.MsgspecError:
                pass  # written by something else: overwrite it
        await kv.put(SCHEDULE.key(key), encode(SchedulePartition(key=key, version=version, rows=list(rows))))
        written.append(key)
    for full_key in await kv.keys(SCHEDULE.pattern):
        if full_key.removeprefix(f"{SCHEDULE.name}.") not in by_season:
            await kv.purge(full_key)
            written.append(full_key)
    return written


class ScheduleReplica:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._seasons: dict[str, list[ScheduledGame]] = {}
        # No change events: the schedule is only looked up.
        self._follower: DatasetFollower[SchedulePartition, None] = DatasetFollower(
            kv, SCHEDULE, self._apply, lambda _: None, size=lambda: {"games": len(self)}
        )
        self.caught_up = self._follower.caught_up

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._seasons.values())

    def games(self) -> list[ScheduledGame]:
        """Every scheduled game, by (date, tip, game id)."""
        out = [g for rows in self._seasons.values() for g in rows]
        out.sort(key=lambda g: (g.date, g.tip_utc, g.game_id))
        return out

    def next_meeting(self, home: str, away: str, on_or_after: str) -> ScheduledGame | None:
        """The first scheduled game of ``home`` at ``away``'s visit on or after the day given."""
        for g in self.games():
            if g.home == home and g.away == away and g.date >= on_or_after:
                return g
        return None

    @property
    def changed(self) -> asyncio.Event:
        """Set after each entry applied: tests await it instead of sleeping."""
        return self._follower.changed

    async def run(self) -> None:
        """Replay, then follow, until cancelled; a lost watch is opened again (with back-off)."""
        await self._follower.run()

    def _apply(self, key: str, entry: KvEntry, partition: SchedulePartition | None) -> None:
        if partition is None:
            self._seasons.pop(key, None)
        else:
            self._seasons[key] = list(partition.rows)
