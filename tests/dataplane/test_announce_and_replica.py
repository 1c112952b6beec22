"""The games data plane on both kinds of process: the stats worker's real announcement step
(``Announcer``, the code the worker runs) writes the store's games into the data bucket and sends
the news; a replica elsewhere replays, follows, restarts from its state, and survives a bucket
that lost its state."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from nbamcp.bus.kv import BucketSettings, KeyValue
from nbamcp.data.games import load_games
from nbamcp.data.ingest.runner import ingest_paths
from nbamcp.data.store import Store
from nbamcp.dataplane.announce import CHUNK, Announcer
from nbamcp.dataplane.replica import GameReplica, GamesChange
from nbamcp.errors import BusClosed
from nbamcp.messages import GamesIngested, decode
from nbamcp.subjects import EVENTS_GAMES
from tests.dataplane.conftest import LAST_DAY, Plane
from tests.predlog.realgames import read_rows, write_csv

WAIT = 20.0
BUCKET = BucketSettings("nbamcp-data")


class Follower:
    """A replica running in the background, and every change it handed over."""

    def __init__(self, kv: KeyValue, replica: GameReplica | None = None) -> None:
        self.replica = replica or GameReplica(kv)
        self.changes: list[GamesChange] = []
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self.replica.run(self._on_change))

    async def _on_change(self, change: GamesChange) -> None:
        async with self._changed:
            self.changes.append(change)
            self._changed.notify_all()

    async def until(self, n: int) -> list[GamesChange]:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: len(self.changes) >= n)
        return self.changes

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def ingest_day(store: Store, data_dir: Path, tmp_path: Path, day: str) -> int:
    header, rows = read_rows(data_dir, lambda r: r["date"] == day)
    report = await ingest_paths(
        store, [write_csv(tmp_path / f"{day}.csv", header, rows)], today=dt.date(2024, 1, 1)
    )
    return len(report.new_game_ids)


async def test_announce_replay_follow_and_correct(
    plane: Plane, store: Store, data_dir: Path, tmp_path: Path
) -> None:
    events = await plane.events()
    news = await events.consumer("news", EVENTS_GAMES)
    announcer = Announcer(store, await (await plane.stores()).kv(BUCKET), events)
    games = await load_games(store.conn)
    assert await announcer.announce(request_id="t-start", full=True) == len(games)
    assert announcer.partitions_written == 3

    follower = Follower(await (await plane.stores()).kv(BUCKET))  # another process
    try:
        [replayed] = await follower.until(1)
        assert follower.replica.caught_up.is_set() and follower.replica.games() == games
        assert len(replayed.added) == len(games) and not replayed.changed and replayed.appends_after(None)

        # A new day of results: only its season is written again; the news carries the rows.
        first_playoff_day = "2023-04-15"
        n = await ingest_day(store, data_dir, tmp_path, first_playoff_day)
        assert await announcer.announce(request_id="t-day") == n > 0
        [_, day] = await follower.until(2)
        assert len(day.added) == n and {g.date for g in day.added} == {first_playoff_day}
        assert day.appends_after(LAST_DAY) and announcer.partitions_written == 4

        # A correction: a score changed in the store is news too, as a changed row.
        g = games[100]
        await store.conn.execute("UPDATE games SET home_pts = home_pts + 1 WHERE game_id = ?", (g.game_id,))
        assert await announcer.announce(request_id="t-fix") == 1
        [*_, fix] = await follower.until(3)
        assert [c.game_id for c in fix.changed] == [g.game_id] and fix.changed[0].home_pts == g.home_pts + 1
        assert not fix.appends_after(LAST_DAY)

        # Nothing new: nothing written, nothing sent.
        assert await announcer.announce(request_id="t-again", full=True) == 0
        assert announcer.partitions_written == 5
    finally:
        await follower.stop()

    got: list[GamesIngested] = []
    async with asyncio.timeout(WAIT):
        while sum(len(e.rows) for e in got) < len(games) + n + 1:
            batch = await news.fetch(100, timeout=1.0)
            got += [decode(m.data, GamesIngested) for m in batch]
            await news.ack_all(batch)
    assert all(len(e.rows) <= CHUNK and e.game_ids == [r.game_id for r in e.rows] for e in got)
    assert got[-1].rows[0].home_pts == g.home_pts + 1
    await news.close()


async def test_a_replica_restarts_from_its_state(plane: Plane, store: Store) -> None:
    kv = await (await plane.stores()).kv(BUCKET)
    await Announcer(store, kv, await plane.events()).announce(request_id="t", full=True)
    first = Follower(await (await plane.stores()).kv(BUCKET))
    await first.until(1)
    await first.stop()
    games, state = first.replica.games(), first.replica.state

    again = GameReplica(await (await plane.stores()).kv(BUCKET), games=games, state=state)
    restarted = Follower(kv, again)
    try:
        [change] = await restarted.until(1)
        # Every season at the revision it had: nothing decoded, nothing changed.
        assert not change and (again.decoded, again.skipped) == (0, 3) and again.games() == games
    finally:
        await restarted.stop()


async def test_a_bucket_that_lost_its_state_is_refilled_and_nothing_changes(
    plane: Plane, store: Store
) -> None:
    stores = await plane.stores()
    announcer = Announcer(store, await stores.kv(BUCKET), await plane.events())
    await announcer.announce(request_id="t", full=True)
    first = Follower(await (await plane.stores()).kv(BUCKET))
    await first.until(1)
    await first.stop()

    # The server loses its state: the bucket is gone, then exists again, empty.
    if plane.kind == "nats":
        js = plane.buses[0].jetstream()  # type: ignore[union-attr]
        await js.delete_key_value(BUCKET.name)
        fresh_stores = await plane.stores()
    else:
        from nbamcp.bus.stores import MemoryStores

        fresh_stores = MemoryStores()
    kv = await fresh_stores.kv(BUCKET)
    assert kv.identity != first.replica.state.identity and await kv.keys() == []
    announcer.kv = kv
    assert await announcer.announce(request_id="t-reconcile", full=True) == 0  # no news: refilled only
    assert sorted(await kv.keys()) == ["games.2021", "games.2022", "games.2023"]

    # A replica restarting from its state: the revisions mean nothing now, the versions still match,
    # read without decoding the rows; the new revisions are kept.
    again = GameReplica(kv, games=first.replica.games(), state=first.replica.state)
    restarted = Follower(kv, again)
    try:
        [change] = await restarted.until(1)
        assert not change and (again.decoded, again.skipped, again.relabelled) == (0, 3, 3)
        assert again.state.identity == kv.identity and again.games() == first.replica.games()
        revisions = {k: (await kv.get(f"games.{k}")).revision for k in again.state.partitions}  # type: ignore[union-attr]
        assert {k: r for k, (r, _) in again.state.partitions.items()} == revisions
    finally:
        await restarted.stop()
        if plane.kind == "memory":
            await fresh_stores.close()


async def test_news_that_could_not_be_sent_is_sent_next_time(plane: Plane, store: Store) -> None:
    kv = await (await plane.stores()).kv(BUCKET)
    events = await plane.events()
    announcer = Announcer(store, kv, events)
    await plane.buses[-1].close()  # the bus under the events goes away mid-announcement
    if plane.kind == "memory":
        await events.close()
    with pytest.raises(BusClosed):
        await announcer.announce(request_id="t-fails", full=True)
    # The dataset was written, the news was not sent: nothing was marked announced.
    assert len(await kv.keys()) == 3
    announcer.events = await plane.events()
    games = await load_games(store.conn)
    assert await announcer.announce(request_id="t-retry") == len(games)


async def test_games_that_leave_the_store_and_come_back_are_news_again(
    plane: Plane, store: Store, data_dir: Path, tmp_path: Path
) -> None:
    """A day of results deleted from the store and ingested again (a backfill that was redone) reaches
    the consumers of news once more: the announcement record forgets games the store no longer has."""
    events = await plane.events()
    news = await events.consumer("news", EVENTS_GAMES)
    announcer = Announcer(store, await (await plane.stores()).kv(BUCKET), events)
    announced = await announcer.announce(request_id="t-start", full=True)
    async with store.transaction() as conn:
        await conn.execute("DELETE FROM games WHERE date = ?", (LAST_DAY,))
    assert await announcer.announce(request_id="t-gone") == 0  # nothing new: a season got smaller
    n = await ingest_day(store, data_dir, tmp_path, LAST_DAY)
    assert n > 0 and await announcer.announce(request_id="t-back") == n

    got: list[GamesIngested] = []
    async with asyncio.timeout(WAIT):
        while sum(len(e.rows) for e in got) < announced + n:
            batch = await news.fetch(100, timeout=1.0)
            got += [decode(m.data, GamesIngested) for m in batch]
            await news.ack_all(batch)
    assert {r.date for r in got[-1].rows} == {LAST_DAY} and len(got[-1].rows) == n
    await news.close()
