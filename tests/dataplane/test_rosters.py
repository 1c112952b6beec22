"""The rosters data plane on both kinds of process: the stats worker's real step
(``RosterAnnouncer``) builds the roster model from the store's player tables and live rosters and
writes each season's priors into the data bucket; a replica elsewhere replays and follows them,
and its book gives the features the store's own book gives. A trade seen live mid-season moves
the served strength from its date on, never before."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from nbamcp.bus.kv import BucketSettings, KeyValue
from nbamcp.data.games import load_games
from nbamcp.data.live_rosters import ingest_live_rosters
from nbamcp.data.players import load_player_seasons
from nbamcp.data.rosters import load_rosters
from nbamcp.data.store import Store, open_store
from nbamcp.dataplane.roster_announce import RosterAnnouncer
from nbamcp.dataplane.roster_replica import RosterReplica
from nbamcp.ml.features import ROSTER_FEATURE_NAMES, build_training_matrix, feature_names
from nbamcp.ml.rosters import RosterBook, build_roster_book, snapshots_from_entries
from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.live_features import LiveFeatures
from tests.data.test_live_rosters import DEADLINE, answers, with_players
from tests.dataplane.conftest import Plane

WAIT = 20.0
BUCKET = BucketSettings("nbamcp-data")
TRADE = DEADLINE.isoformat()  # Durant to Phoenix, Irving to Dallas, Bridges and Johnson to Brooklyn


@pytest.fixture(scope="session")
def players_store(base_store: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2021-2023 games plus the players (Basketball-Reference's advanced table, 1990-2024)."""
    return with_players(base_store, data_dir, tmp_path_factory.mktemp("rosters-plane"))


@pytest.fixture
async def pstore(players_store: Path, tmp_path: Path) -> AsyncIterator[Store]:
    path = tmp_path / "stats" / "store.sqlite"
    path.parent.mkdir()
    shutil.copy(players_store, path)
    s = await open_store(path)
    yield s
    await s.close()


class Follower:
    """A roster replica running in the background, and every change it handed over."""

    def __init__(self, kv: KeyValue) -> None:
        self.replica = RosterReplica(kv)
        self.changes: list[list[int]] = []
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self.replica.run(self._on_change))

    async def _on_change(self, seasons: list[int]) -> None:
        async with self._changed:
            self.changes.append(seasons)
            self._changed.notify_all()

    async def until(self, n: int) -> list[list[int]]:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: len(self.changes) >= n)
        return self.changes

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def store_book(store: Store) -> RosterBook:
    """The book the store's own rows give (what the stats worker computes)."""
    entries = await load_rosters(store.conn)
    return build_roster_book(await load_player_seasons(store.conn), extra=snapshots_from_entries(entries))


async def test_published_rosters_give_the_store_books_features(plane: Plane, pstore: Store) -> None:
    announcer = RosterAnnouncer(pstore, await (await plane.stores()).kv(BUCKET))
    written = await announcer.announce(full=True)
    assert written == list(range(1990, 2026)) and announcer.builds == 1  # 1990: rosters, no projections
    # Publishing again is a no-op: same rows, no build, no write.
    assert await announcer.announce() == [] and announcer.builds == 1
    assert await announcer.announce(full=True) == [] and announcer.builds == 1

    follower = Follower(await (await plane.stores()).kv(BUCKET))  # another process
    try:
        [replayed] = await follower.until(1)
        assert replayed == written and follower.replica.caught_up.is_set()
        games = await load_games(pstore.conn)
        own, served = await store_book(pstore), follower.replica.book()
        X_own = build_training_matrix(games, rosters=own)[0]
        X_served = build_training_matrix(games, rosters=served)[0]
        np.testing.assert_array_equal(X_served, X_own)
        # The roster columns are there: a roster for every team of these seasons.
        roster_cols = X_own[:, len(feature_names("fs1")) :]
        assert roster_cols.shape[1] == len(ROSTER_FEATURE_NAMES) and not np.isnan(roster_cols).any()
        # What serving computes is what training computes, row for row.
        live = LiveFeatures(games, served, follower.replica.version)
        np.testing.assert_array_equal(np.vstack(live.rows), X_own)
        assert live.feature_set == "fs2" and follower.replica.version
    finally:
        await follower.stop()


async def test_a_trade_ingested_mid_season_moves_served_strength_from_its_date_on(
    plane: Plane, pstore: Store
) -> None:
    announcer = RosterAnnouncer(pstore, await (await plane.stores()).kv(BUCKET))
    await announcer.announce(full=True)
    follower = Follower(await (await plane.stores()).kv(BUCKET))
    try:
        await follower.until(1)
        before_book, before_version = follower.replica.book(), follower.replica.version
        games = await load_games(pstore.conn)
        before = LiveFeatures(games, before_book, before_version)

        # The trade deadline's rosters, fetched live (recorded), then announced as an ingest does.
        await ingest_live_rosters(pstore, 2023, responses=answers("deadline"), today=DEADLINE)
        written = await announcer.announce()
        # 2022-23 moved; 2023-24 too (its "last season's roster" is now the deadline's).
        assert written == [2023, 2024]
        changes = await follower.until(3)
        assert sorted(s for c in changes[1:] for s in c) == [2023, 2024]
        after_book = follower.replica.book()
        assert follower.replica.version != before_version

        for team in ("BKN", "PHX", "DAL"):
            for day in ("2022-10-18", "2023-01-15", "2023-02-09"):
                assert after_book.strength(team, 2023, day) == before_book.strength(team, 2023, day)
            moved = after_book.strength(team, 2023, TRADE)
            assert moved != before_book.strength(team, 2023, TRADE)
            assert after_book.strength(team, 2023, "2023-04-09") == moved
        after = LiveFeatures(games, after_book, follower.replica.version)
        rows_before, rows_after = np.vstack(before.rows), np.vstack(after.rows)
        earlier = np.array([g.date < TRADE for g in games])
        np.testing.assert_array_equal(rows_after[earlier], rows_before[earlier])
        traded = np.array([g.date >= TRADE and bool({g.home, g.away} & {"BKN", "PHX", "DAL"}) for g in games])
        diff = feature_names("fs2").index("roster_diff")
        assert (rows_after[traded, diff] != rows_before[traded, diff]).all()
        # A game not yet played after the deadline: the deadline's rosters, not the opening ones.
        g = CanonicalGame("PHX", "BKN", "2023-04-20", 2023, False, "Phoenix Suns", "Brooklyn Nets")
        [r_before], [r_after] = before.resolve([g]), after.resolve([g])
        assert r_after.x[diff] != r_before.x[diff]
        # And the same book the store's own rows give.
        np.testing.assert_array_equal(
            rows_after, build_training_matrix(games, rosters=await store_book(pstore))[0]
        )
    finally:
        await follower.stop()
