"""The games a serving worker computes features from, and its snapshot in its own home.

The games come from the stats worker's real announcement (into the in-process data bucket); a
restart from the snapshot must serve exactly what a full rebuild serves, and costs none of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from nbamcp.bus.durable_sqlite import SqliteEvents
from nbamcp.bus.kv import BucketSettings, KeyValue
from nbamcp.bus.stores import MemoryStores
from nbamcp.config import Config
from nbamcp.data.store import open_store
from nbamcp.dataplane.announce import Announcer
from nbamcp.messages import GameQuery
from nbamcp.serving.canonical import canonicalize_all
from nbamcp.serving.live_features import LiveFeatures
from nbamcp.serving.live_games import LiveGames
from nbamcp.streams import settings_from
from tests.serving.conftest import TODAY, WAIT, Home


@pytest.fixture
async def bucket(home: Home) -> AsyncIterator[KeyValue]:
    """The data bucket, filled by the stats worker's announcement of the home's store."""
    stores = MemoryStores()
    kv = await stores.kv(BucketSettings("nbamcp-data"))
    store = await open_store(home.store)
    events = await SqliteEvents.open(home.root / "events.sqlite", settings=settings_from(Config()))
    try:
        await Announcer(store, kv, events).announce(request_id="t", full=True)
    finally:
        await events.close()
        await store.close()
    yield kv
    await stores.close()


class Worker:
    """What a worker does with LiveGames: open, run in the background, stop."""

    def __init__(self, kv: KeyValue, snapshot: Path) -> None:
        self.tasks: list[asyncio.Task[object]] = []
        self.games = LiveGames(kv, snapshot, spawn=self._spawn)

    def _spawn(self, coro: object, name: str) -> asyncio.Task[object]:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self.tasks.append(task)
        return task

    async def __aenter__(self) -> LiveGames:
        await self.games.open()
        self._spawn(self.games.run(), "games")
        async with asyncio.timeout(WAIT):
            await self.games.ready.wait()
        return self.games

    async def __aexit__(self, *exc: object) -> None:
        await self.games.save()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


QUERIES = [
    GameQuery(home="BOS", away="LAL", date="2023-04-05"),  # after the latest result
    GameQuery(home="DEN", away="PHX", date="2022-01-10"),  # a past date, maybe played
    GameQuery(home="MIA", away="NYK", date="2019-11-20"),  # an older season
]


def rows(live: LiveFeatures) -> np.ndarray:
    games = canonicalize_all(QUERIES, today=TODAY, max_slate=10)
    return np.vstack([r.x for r in live.resolve(games)])


async def test_a_restart_from_the_snapshot_serves_what_a_rebuild_serves(bucket: KeyValue, home: Home) -> None:
    snapshot = home.root / "inference-features.snapshot"
    async with Worker(bucket, snapshot) as first:
        assert not first.restored and first.rebuilds == 1 and snapshot.exists()
        built = rows(first.live)
        n = len(first.live)
    async with Worker(bucket, snapshot) as second:
        # Every season at the revision the snapshot had: nothing decoded, nothing rebuilt.
        assert second.restored and second.rebuilds == 0 and second.replica.decoded == 0
        assert len(second.live) == n and second.live.latest_date == "2023-03-31"
        np.testing.assert_array_equal(rows(second.live), built)
        np.testing.assert_array_equal(rows(LiveFeatures(second.replica.games())), built)


async def test_a_snapshot_of_other_code_or_garbage_is_rebuilt(bucket: KeyValue, home: Home) -> None:
    snapshot = home.root / "inference-features.snapshot"
    async with Worker(bucket, snapshot) as first:
        built = rows(first.live)
    data = snapshot.read_bytes()
    for bad in (data.replace(b"fs1:", b"fs0:", 1), data[: len(data) // 2], b"\x00not a snapshot"):
        snapshot.write_bytes(bad)
        async with Worker(bucket, snapshot) as again:
            assert not again.restored and again.rebuilds == 1
            np.testing.assert_array_equal(rows(again.live), built)
