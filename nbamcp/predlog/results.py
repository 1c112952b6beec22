"""Game results read from the stats store, read-only (the stats side owns that file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiosqlite
import msgspec

from nbamcp.errors import Unavailable

_CHUNK = 500
_COLS = "game_id, date, home, away, home_pts, away_pts, neutral"


class GameResult(msgspec.Struct, frozen=True):
    game_id: str
    date: str
    home: str
    away: str
    home_pts: int
    away_pts: int
    neutral: bool


async def read_results(
    store_path: str | Path,
    *,
    game_ids: Sequence[str] = (),
    date_from: str | None = None,
    date_to: str | None = None,
) -> list[GameResult]:
    """The games named by ``game_ids``; with none named, every game dated ``date_from..date_to``."""
    path = Path(store_path)
    try:
        conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
    except Exception as exc:  # sqlite3 raises several types for missing or unusable files
        raise Unavailable(f"cannot open the stats store {path} (has anything been ingested?): {exc}") from exc
    try:
        await conn.execute("PRAGMA busy_timeout = 5000")
        rows: list[tuple[object, ...]] = []
        ids = sorted(set(game_ids))
        if ids:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                sql = f"SELECT {_COLS} FROM games WHERE game_id IN ({', '.join('?' * len(chunk))})"
                async with conn.execute(sql, chunk) as cur:
                    rows += [tuple(r) for r in await cur.fetchall()]
        elif date_from and date_to:
            sql = f"SELECT {_COLS} FROM games WHERE date BETWEEN ? AND ?"
            async with conn.execute(sql, (date_from, date_to)) as cur:
                rows += [tuple(r) for r in await cur.fetchall()]
    except aiosqlite.Error as exc:
        raise Unavailable(f"cannot read games from the stats store {path}: {exc}") from exc
    finally:
        await conn.close()
    return [
        GameResult(str(g), str(d), str(h), str(a), int(hp), int(ap), bool(n))  # type: ignore[call-overload]
        for g, d, h, a, hp, ap, n in rows
        if hp is not None and ap is not None
    ]
