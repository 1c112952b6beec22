"""The games read model: GameRow from the store's games table and from plain rows."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from nbamcp.data.games import GAME_COLUMNS, GameRow, games_from_rows, load_games
from nbamcp.errors import DataQualityError, InvalidInput

ROWS = [
    ("g3", "2021-01-02", 2021, "regular", "BOS", "NYK", 100, 90, 0, 0, 0.6, 0.55),
    ("g1", "2020-01-01", 2020, "regular", "LAL", "BOS", 99, 101, 0, 0, 0.5, None),
    ("g2", "2021-01-02", 2021, "playoffs", "LAL", "MIA", 110, 100, 1, 1, None, None),
]

SCHEMA = """
CREATE TABLE games (
    game_id TEXT PRIMARY KEY, date TEXT NOT NULL, season INTEGER NOT NULL, season_type TEXT NOT NULL,
    home TEXT NOT NULL, away TEXT NOT NULL, home_pts INTEGER, away_pts INTEGER,
    neutral INTEGER NOT NULL, playin INTEGER NOT NULL, elo538_home_prob REAL, raptor538_home_prob REAL
)
"""


def test_games_from_rows_orders_by_date_then_id() -> None:
    games = games_from_rows(ROWS)
    assert [g.game_id for g in games] == ["g1", "g2", "g3"]
    g2 = games[1]
    assert g2.neutral and g2.playin and g2.playoff and g2.home_win
    assert g2.elo538_home_prob is None
    mapped = games_from_rows([dict(zip(GAME_COLUMNS, r, strict=True)) for r in ROWS])
    assert mapped == games


def test_bad_rows_are_rejected_clearly() -> None:
    with pytest.raises(DataQualityError, match="tied score"):
        games_from_rows([("x", "2020-01-01", 2020, "regular", "A", "B", 100, 100, 0, 0, None, None)])
    with pytest.raises(DataQualityError, match="season_type"):
        games_from_rows([("x", "2020-01-01", 2020, "preseason", "A", "B", 100, 99, 0, 0, None, None)])
    with pytest.raises(DataQualityError, match="no final score"):
        games_from_rows([("x", "2020-01-01", 2020, "regular", "A", "B", None, None, 0, 0, None, None)])
    with pytest.raises(DataQualityError, match="expected 12"):
        games_from_rows([("x", "2020-01-01")])


async def test_load_games_from_sqlite(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "store.db") as conn:
        await conn.execute(SCHEMA)
        await conn.executemany(f"INSERT INTO games VALUES ({', '.join('?' * len(GAME_COLUMNS))})", ROWS)
        await conn.commit()
        games = await load_games(conn)
        assert [g.game_id for g in games] == ["g1", "g2", "g3"]
        assert all(isinstance(g, GameRow) for g in games)
        only_2021 = await load_games(conn, season_from=2021, season_to=2021)
        assert [g.game_id for g in only_2021] == ["g2", "g3"]
        assert await load_games(conn, season_from=2030) == []
        # A scheduled game without a score is not a result: skipped.
        scheduled = ("g9", "2021-02-01", 2021, "regular", "BOS", "MIA", None, None, 0, 0, 0.5, None)
        await conn.execute(f"INSERT INTO games VALUES ({', '.join('?' * len(GAME_COLUMNS))})", scheduled)
        assert [g.game_id for g in await load_games(conn)] == ["g1", "g2", "g3"]
        with pytest.raises(InvalidInput, match="after season_to"):
            await load_games(conn, season_from=2022, season_to=2021)
