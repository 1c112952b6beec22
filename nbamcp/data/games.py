"""The games read model: one frozen ``GameRow`` per played game, as every consumer sees it.

The rows come from the store's ``games`` table (``load_games``, the stats worker's
read), travel between workers as the games dataset (``GameRow`` is a message type:
``nbamcp/messages/data.py``; ``partitions`` cuts them by season, ``partition_version``
names a partition's content), and feed the ML code. The FiveThirtyEight columns ride
along only so that the backtest can compare against them on exactly the same games:
they are never features.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from nbamcp.data.store import open_store
from nbamcp.errors import DataQualityError, InvalidInput, Unavailable
from nbamcp.messages.data import GameRow

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
    cur = await conn.cursor()
    # Plain tuples, not the store's Row objects: the stats worker reads every game at each start
    # (its announcement), and for 73k games the Rows and their copies were most of that read.
    cur.row_factory = None
    try:
        await cur.execute(sql, args)
        rows = await cur.fetchall()
    finally:
        await cur.close()
    try:
        # GameRow is array-like: the rows convert in C, in order (73k games: ~30 ms, not ~600).
        games = msgspec.convert(rows, list[GameRow], strict=False)
    except msgspec.ValidationError:
        return games_from_rows(rows)  # the slow path names the row that is wrong
    for g in games:
        if g.home_pts == g.away_pts or g.season_type not in SEASON_TYPES:
            return games_from_rows(rows)
    return games


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


_rows_encoder = msgspec.msgpack.Encoder()


def partition_key(game: GameRow) -> str:
    """The games dataset is cut by season: a day of results rewrites one partition."""
    return str(game.season)


def partitions(games: Iterable[GameRow]) -> dict[str, list[GameRow]]:
    """Games (in (date, game_id) order, as ``load_games`` gives them) by partition key, in order."""
    out: dict[str, list[GameRow]] = {}
    for g in games:
        out.setdefault(partition_key(g), []).append(g)
    return out


def partition_version(rows: Sequence[GameRow]) -> str:
    """sha256 of the rows as encoded (in order): the same rows, the same version."""
    return hashlib.sha256(_rows_encoder.encode(list(rows))).hexdigest()


def row_hash(game: GameRow) -> str:
    """A short fingerprint of one game's row (did it change since it was announced?)."""
    return hashlib.blake2b(_rows_encoder.encode(game), digest_size=8).hexdigest()
