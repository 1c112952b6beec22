"""Games as the ML code sees them: one frozen row per played game.

The rows come from the project's SQLite store (``games`` table, see
``nbamcp.data``). The FiveThirtyEight columns ride along only so that the
backtest can compare against them on exactly the same games: they are never
features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiosqlite
import msgspec

from nbamcp.errors import DataQualityError, InvalidInput

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


def seasons_of(games: Sequence[GameRow]) -> list[int]:
    """The distinct seasons present, ascending."""
    return sorted({g.season for g in games})


def require_seasons(games: Sequence[GameRow], seasons: Iterable[int], *, what: str) -> list[int]:
    """Check that every season in ``seasons`` has games; return them sorted.

    Raises InvalidInput naming the missing seasons and the range that exists.
    """
    wanted = sorted(set(seasons))
    if not wanted:
        raise InvalidInput(f"{what}: no seasons given")
    have = set(seasons_of(games))
    missing = [s for s in wanted if s not in have]
    if missing:
        span = f"{min(have)}-{max(have)}" if have else "none (no games loaded)"
        raise InvalidInput(
            f"{what}: no games for season(s) {', '.join(map(str, missing))}; seasons with games: {span}",
            details={"missing": ",".join(map(str, missing))},
        )
    return wanted


def snapshot_hash(games: Sequence[GameRow]) -> str:
    """sha256 of the games' content in order: the data lineage of a trained model."""
    h = hashlib.sha256()
    enc = msgspec.msgpack.Encoder()
    for g in games:
        h.update(enc.encode(g))
    return h.hexdigest()
