"""The store: WAL, foreign keys, migrations (a v1 file with data upgrades in place)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nbamcp.data.migrations import LATEST_VERSION, MIGRATIONS
from nbamcp.data.store import Store, open_store
from nbamcp.errors import InvalidInput, Unavailable
from nbamcp.messages import IngestReport


async def test_new_store_is_at_the_latest_version_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    async with await open_store(tmp_path / "sub" / "nba.db") as store:
        assert await store.schema_version() == LATEST_VERSION == len(MIGRATIONS)
        assert (await store.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await store.fetchone("PRAGMA foreign_keys"))[0] == 1
        n = (await store.fetchone("SELECT COUNT(*) FROM franchises"))[0]
        assert n >= 50
        with pytest.raises(sqlite3.IntegrityError):
            async with store.transaction() as conn:
                await conn.execute(
                    "INSERT INTO games (game_id, date, season, season_type, home, away, home_code, "
                    "away_code, home_pts, away_pts, sources) VALUES ('x', '2020-01-01', 2020, 'regular', "
                    "'ZZZ', 'BOS', 'ZZZ', 'BOS', 100, 90, 't')"
                )
        assert (await store.fetchone("SELECT COUNT(*) FROM games"))[0] == 0  # rolled back


async def test_v1_file_with_data_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with await open_store(path, target_version=1) as old:
        assert await old.schema_version() == 1
        cols = {r[1] for r in await old.fetchall("PRAGMA table_info(games)")}
        assert "playin" not in cols
        async with old.transaction() as conn:
            await conn.executemany(
                "INSERT INTO games (game_id, date, season, season_type, home, away, home_code, away_code, "
                "home_pts, away_pts, neutral, elo538_home_prob, sources) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0.6, '538')",
                [
                    (
                        "2022-04-13-CLE-BKN-1",
                        "2022-04-12",
                        2022,
                        "playoffs",
                        "BKN",
                        "CLE",
                        "BRK",
                        "CLE",
                        115,
                        108,
                    ),
                    (
                        "2022-04-17-BKN-BOS-1",
                        "2022-04-17",
                        2022,
                        "playoffs",
                        "BOS",
                        "BKN",
                        "BOS",
                        "BRK",
                        115,
                        114,
                    ),
                    (
                        "2022-04-10-NYK-TOR-1",
                        "2022-04-10",
                        2022,
                        "regular",
                        "TOR",
                        "NYK",
                        "TOR",
                        "NYK",
                        105,
                        94,
                    ),
                ],
            )
            await conn.execute("INSERT INTO players (player_id, name) VALUES ('jamesle01', 'LeBron James')")
    async with await open_store(path) as store:
        assert await store.schema_version() == LATEST_VERSION
        rows = await store.fetchall("SELECT game_id, playin, elo538_home_prob FROM games ORDER BY date")
        assert [(r[0], r[1]) for r in rows] == [
            ("2022-04-10-NYK-TOR-1", 0),
            ("2022-04-13-CLE-BKN-1", 1),  # inside the 2022 play-in window: back-filled
            ("2022-04-17-BKN-BOS-1", 0),
        ]
        assert all(r[2] == 0.6 for r in rows)
        assert (await store.fetchone("SELECT name FROM players"))[0] == "LeBron James"
        tables = {r[0] for r in await store.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"raptor", "team_seasons_bref", "quarantine", "ingest_runs", "team_codes"} <= tables


async def test_reopening_is_a_no_op_and_newer_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nba.db"
    async with await open_store(path):
        pass
    async with await open_store(path) as store:
        assert await store.schema_version() == LATEST_VERSION
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    con.close()
    with pytest.raises(Unavailable, match="newer than this code"):
        await open_store(path)
    with pytest.raises(InvalidInput):
        await open_store(tmp_path / "x.db", target_version=99)


_TEAM_SEASON = "SELECT COUNT(*) FROM games WHERE season = ? AND (home = ? OR away = ?)"


async def _plan(store: Store, sql: str, args: tuple[object, ...]) -> str:
    return " | ".join(r[3] for r in await store.fetchall("EXPLAIN QUERY PLAN " + sql, args))


async def test_the_planner_has_statistics_after_an_ingest_and_picks_the_team_indexes(store: Store) -> None:
    # Without sqlite_stat1 SQLite read a whole season through games_season for one team's games.
    assert await store.analyzed()
    games = await store.fetchall("SELECT idx FROM sqlite_stat1 WHERE tbl = 'games'")
    assert {"games_home", "games_away", "games_season"} <= {r[0] for r in games}
    plan = await _plan(store, _TEAM_SEASON, (2023, "BOS", "BOS"))
    assert "games_home" in plan and "games_away" in plan and "games_season" not in plan, plan


async def test_a_store_ingested_without_statistics_gets_them_when_opened(
    full_ingest: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    src, dst = sqlite3.connect(full_ingest[0]), sqlite3.connect(path)
    src.backup(dst)
    dst.execute("DROP TABLE sqlite_stat1")  # as a store ingested before the statistics were kept
    src.close(), dst.close()
    old = sqlite3.connect(path)  # a fresh connection: the planner reads the statistics as it opens
    plan = " | ".join(r[3] for r in old.execute("EXPLAIN QUERY PLAN " + _TEAM_SEASON, (2023, "BOS", "BOS")))
    old.close()
    assert "games_season" in plan, plan  # the guess the statistics correct
    async with await open_store(path) as store:
        assert await store.analyzed()
        assert "games_home" in await _plan(store, _TEAM_SEASON, (2023, "BOS", "BOS"))
