"""The player-seasons read model: one frozen row per player, season and team stint.

The rows come from the store's ``player_seasons`` table (regular season, joined
with FiveThirtyEight's per-player RAPTOR where it exists) and feed the roster
model (``nbamcp.ml.projections``, ``nbamcp.ml.rosters``). A player traded during
a season has one row per team (``stint`` 1, 2, ... in the order he played for
them) plus the season's total row (``team`` None, ``stint`` 0); a player with one
team has just that team's row.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from nbamcp.data.store import open_store
from nbamcp.errors import DataQualityError, Unavailable

PLAYER_COLUMNS: tuple[str, ...] = (
    "player_id", "season", "team", "stint", "age", "games", "minutes", "bpm", "raptor",
)  # fmt: skip


class PlayerSeason(msgspec.Struct, frozen=True):
    """One player-season-team row (``team`` None: the season total of a traded player)."""

    player_id: str
    season: int  # calendar year in which the season ends
    team: str | None  # franchise id
    stint: int  # 0: season total (TOT); else 1, 2, ... in the order he played for the teams
    age: int | None
    games: int
    minutes: float
    bpm: float | None  # box plus/minus, points per 100 possessions
    raptor: float | None = None  # FiveThirtyEight's RAPTOR total for the player's whole season


def _row_to_player(row: Sequence[Any] | Mapping[str, Any]) -> PlayerSeason:
    values = [row[c] for c in PLAYER_COLUMNS] if isinstance(row, Mapping) else list(row)
    if len(values) != len(PLAYER_COLUMNS):
        raise DataQualityError(
            f"a player row has {len(values)} values, expected {len(PLAYER_COLUMNS)}: "
            + ", ".join(PLAYER_COLUMNS)
        )
    pid, season, team, stint, age, games, minutes, bpm, raptor = values
    if not pid:
        raise DataQualityError("a player row has no player_id")
    if (team is None) != (int(stint) == 0):
        raise DataQualityError(
            f"player {pid} {season}: stint {stint} with team {team!r} (stint 0 is the total)"
        )
    return PlayerSeason(
        player_id=str(pid),
        season=int(season),
        team=None if team is None else str(team),
        stint=int(stint),
        age=None if age is None else int(age),
        games=int(games or 0),
        minutes=float(minutes or 0.0),
        bpm=None if bpm is None or not math.isfinite(float(bpm)) else float(bpm),
        raptor=None if raptor is None else float(raptor),
    )


def players_from_rows(rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> list[PlayerSeason]:
    """Rows (tuples in ``PLAYER_COLUMNS`` order, or mappings) -> player seasons ordered by
    (season, player_id, stint)."""
    out = [_row_to_player(r) for r in rows]
    out.sort(key=lambda p: (p.season, p.player_id, p.stint))
    return out


_SQL = """
SELECT ps.player_id, ps.season, CASE WHEN ps.is_total = 1 THEN NULL ELSE ps.franchise_id END,
       ps.stint, ps.age, ps.gp, ps.min, ps.bpm, r.raptor_total
FROM player_seasons ps
LEFT JOIN raptor r ON r.player_id = ps.player_id AND r.season = ps.season
WHERE ps.season_type = 'regular' AND (ps.is_total = 1 OR ps.franchise_id IS NOT NULL)
"""


async def load_player_seasons(
    conn: aiosqlite.Connection, *, season_to: int | None = None
) -> list[PlayerSeason]:
    """Regular-season player rows from the store (RAPTOR beside them where it exists)."""
    sql, args = _SQL, []
    if season_to is not None:
        sql += " AND ps.season <= ?"
        args.append(int(season_to))
    async with conn.execute(sql, args) as cur:
        rows = await cur.fetchall()
    return players_from_rows(rows)


async def read_player_seasons(store_path: Path) -> list[PlayerSeason]:
    """Every regular-season player row in the store ([] when it has none)."""
    if not await asyncio.to_thread(store_path.exists):
        raise Unavailable(f"there is no store at {store_path}: ingest the games and player tables first")
    store = await open_store(store_path)
    try:
        return await load_player_seasons(store.conn)
    finally:
        await store.close()
