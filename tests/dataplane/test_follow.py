"""The loop every replica shares (``DatasetFollower``) on both kinds of bucket: the replay is one
change, then each entry is one; an entry that does not decode is passed over, a purge is a change,
a replica restarting from what it applied skips without decoding, and it hears of a new bucket
incarnation once."""

from __future__ import annotations

import asyncio

from nbamcp.bus.kv import BucketSettings, KvEntry
from nbamcp.dataplane.follow import DatasetFollower
from nbamcp.endpoints import SCHEDULE_DATASET as SCHEDULE
from nbamcp.messages import SchedulePartition, encode
from tests.dataplane.conftest import Plane

WAIT = 20.0
BUCKET = BucketSettings("nbamcp-data")


def _partition(season: str) -> bytes:
    return encode(SchedulePartition(key=season, version=f"v-{season}", rows=[]))


class Seen:
    """What a follower applied and handed over, awaited without sleeping."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, str | None]] = []  # (key, the partition's version; None: purged)
        self.held: dict[str, str] = {}  # key -> version, as a replica keeps them
        self.changes: list[list[str]] = []
        self.identities: list[str] = []
        self._cond = asyncio.Condition()

    def apply(self, key: str, entry: KvEntry, partition: SchedulePartition | None) -> list[str] | None:
        self.applied.append((key, None if partition is None else partition.version))
        if partition is None:
            # On NATS the replay holds a purged key's marker too; the memory twin leaves it out.
            return [key] if self.held.pop(key, None) is not None else None
        self.held[key] = partition.version
        return [key]

    async def on_change(self, change: list[str]) -> None:
        async with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    async def until(self, n: int) -> list[list[str]]:
        async with asyncio.timeout(WAIT), self._cond:
            await self._cond.wait_for(lambda: len(self.changes) >= n)
        return self.changes


def _merge(changes: list[list[str]]) -> list[str]:
    return sorted(k for c in changes for k in c)


async def test_replay_follow_bad_entries_purges_and_a_restart(plane: Plane) -> None:
    kv = await (await plane.stores()).kv(BUCKET)
    await kv.put(SCHEDULE.key("2027"), _partition("2027"))
    await kv.put(SCHEDULE.key("2026"), b"not a partition")
    await kv.put("games.2027", b"another dataset's")

    seen = Seen()
    follower = DatasetFollower(kv, SCHEDULE, seen.apply, _merge, on_identity=seen.identities.append)
    task = asyncio.create_task(follower.run(seen.on_change))
    try:
        assert await seen.until(1) == [["2027"]]  # the replay, as one change; the bad entry left out
        assert follower.caught_up.is_set() and (follower.decoded, follower.skipped) == (1, 0)
        assert seen.identities == [kv.identity]

        await kv.put(SCHEDULE.key("2028"), _partition("2028"))
        await kv.purge(SCHEDULE.key("2027"))
        assert await seen.until(3) == [["2027"], ["2028"], ["2027"]]
        assert seen.applied == [("2027", "v-2027"), ("2028", "v-2028"), ("2027", None)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # Restarting from what it applied (same incarnation): skipped, not decoded, no identity news.
    again = Seen()
    restarted = DatasetFollower(
        kv, SCHEDULE, again.apply, _merge, skip=lambda key, entry: key == "2028",
        identity=kv.identity, on_identity=again.identities.append,
    )  # fmt: skip
    task = asyncio.create_task(restarted.run(again.on_change))
    try:
        assert await again.until(1) == [[]]
        assert (restarted.decoded, restarted.skipped) == (0, 1) and again.identities == []
        assert again.held == {} and all(version is None for _, version in again.applied)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
