"""The games read model: one frozen row per played game, as every consumer sees it.

The rows come from the store's ``games`` table (``load_games``), travel between
workers as the ``games`` dataset (``nbamcp.data.datasets``), and feed the ML code.
The FiveThirtyEight columns ride along only so that the backtest can compare
against them on exactly the same games: they are never features.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from nbamcp.data.store import open_store
from nbamcp.errors import DataQualityError, InvalidInput, Unavailable

GAME_COLUMNS: tuple[str, ...] = (
    "game_id",
    "date",
    "season",
    "season_type",
    "home",
    "away",
    "home_pts",
    "away_pts",
    "neutral",
    "playin",
    "elo538_home_prob",
    "raptor538_home_prob",
)
SEASON_TYPES = ("regular", "playoffs")


class GameRow(msgspec.Struct, frozen=True):
    """One played game; ``home`` is the home franchise id (even when ``neutral``)."""

    game_id: str
    date: str  # 'YYYY-MM-DD'
    season: int  # calendar year in which the season ends
    season_type: str  # 'regular' | 'playoffs'
    home: str
    away: str
    home_pts: int
    away_pts: int
    neutral: bool = False
    playin: bool = False
    elo538_home_prob: float | None = None
    raptor538_home_prob: float | None = None

    @property
    def playoff(self) -> bool:
        return self.season_type == "playoffs"

    @property
    def home_win(self) -> bool:
        return self.home_pts > self.away_pts


def _row_to_game(row: Sequence[Any] | Mapping[str, Any]) -> GameRow:
    values = [row[c] for c in GAME_COLUMNS] if isinstance(row, Mapping) else list(row)
    if len(values) != len(GAME_COLUMNS):
        raise DataQualityError(
            f"a games row has {len(values)} values, expected {len(GAME_COLUMNS)}: {', '.join(GAME_COLUMNS)}"
        )
    gid, date, season, stype, home, away, hp, ap, neutral, playin, elo, raptor = values
    if stype not in SEASON_TYPES:
        raise DataQualityError(f"game {gid}: season_type {stype!r} is not one of {SEASON_TYPES}")
    if hp is None or ap is None:
        raise DataQualityError(f"game {gid}: no final score ({hp}-{ap}); only played games can be loaded")
    if hp == ap:
        raise DataQualityError(f"game {gid}: tied score {hp}-{ap}; NBA games cannot end tied")
    return GameRow(
        game_id=str(gid),
        date=str(date),
        season=int(season),
        season_type=str(stype),
        home=str(home),
        away=str(away),
        home_pts=int(hp),
        away_pts=int(ap),
        neutral=bool(neutral),
        playin=bool(playin),
        elo538_home_prob=None if elo is None else float(elo),
        raptor538_home_prob=None if raptor is None else float(raptor),
    )


def games_from_rows(rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> list[GameRow]:
    """Rows (tuples in ``GAME_COLUMNS`` order, or mappings by column) -> games ordered by (date, game_id)."""
    games = [_row_to_game(r) for r in rows]
    games.sort(key=lambda g: (g.date, g.game_id))
    return games


async def load_games(
    conn: aiosqlite.Connection, *, season_from: int | None = None, season_to: int | None = None
) -> list[GameRow]:
    """Read played games (both scores known) from the store, ordered by (date, game_id).

    Pass the whole history when the games feed a model: seasons before the ones
    trained on only warm up the ratings, they are never used as training rows.
    """
    if season_from is not None and season_to is not None and season_from > season_to:
        raise InvalidInput(f"season_from {season_from} is after season_to {season_to}")
    where, args = ["home_pts IS NOT NULL", "away_pts IS NOT NULL"], []
    if season_from is not None:
        where.append("season >= ?")
        args.append(int(season_from))
    if season_to is not None:
        where.append("season <= ?")
        args.append(int(season_to))
    sql = f"SELECT {', '.join(GAME_COLUMNS)} FROM games WHERE {' AND '.join(where)} ORDER BY date, game_id"
    async with conn.execute(sql, args) as cur:
        rows = await cur.fetchall()
    return games_from_rows(rows)


async def read_played_games(store_path: Path) -> list[GameRow]:
    """Every played game in the store, in date order (the whole history warms the ratings up)."""
    if not await asyncio.to_thread(store_path.exists):
        raise Unavailable(
            f"there is no store at {store_path}: run `nbamcp serve` once (the stats worker ingests "
            "NBAMCP_DATA_DIR on its first start) or ingest the games first"
        )
    store = await open_store(store_path)
    try:
        games = await load_games(store.conn)
    finally:
        await store.close()
    if not games:
        raise Unavailable(f"the store at {store_path} has no played games yet: ingest the games first")
    return games
