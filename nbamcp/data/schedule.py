"""The schedule read model: the games not played yet, as the stats worker reads and publishes them.

``scheduled_games`` keeps a season's schedule as last fetched (``nbamcp.data.live_schedule``);
a game whose result is in ``games`` since (the same stats.nba.com id, or the same day and
teams from another source) is played, not scheduled, and left out here. The rows travel to
the serving workers as the schedule dataset (``nbamcp.dataplane.schedule``), one season per
partition, like the games.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import aiosqlite
import msgspec

from nbamcp.messages import ScheduledGame

COLUMNS = ("game_id", "date", "season", "season_type", "home", "away", "neutral", "playin", "tip_utc")
_UNPLAYED = (
    "NOT EXISTS (SELECT 1 FROM games g WHERE g.nba_game_id = s.game_id OR "
    "(g.date = s.date AND g.home = s.home AND g.away = s.away))"
)
_encoder = msgspec.msgpack.Encoder()


async def load_schedule(conn: aiosqlite.Connection, *, date_from: str | None = None) -> list[ScheduledGame]:
    """Scheduled games not played yet (on or after ``date_from``), by (date, tip, game id)."""
    where, args = [_UNPLAYED], []
    if date_from is not None:
        where.append("s.date >= ?")
        args.append(date_from)
    sql = (
        f"SELECT {', '.join('s.' + c for c in COLUMNS)} FROM scheduled_games s "
        f"WHERE {' AND '.join(where)} ORDER BY s.date, s.tip_utc, s.game_id"
    )
    async with conn.execute(sql, args) as cur:
        rows = await cur.fetchall()
    return msgspec.convert([tuple(r) for r in rows], list[ScheduledGame], strict=False)


def schedule_partitions(games: Iterable[ScheduledGame]) -> dict[str, list[ScheduledGame]]:
    """Scheduled games by season (the partition key), in order."""
    out: dict[str, list[ScheduledGame]] = {}
    for g in games:
        out.setdefault(str(g.season), []).append(g)
    return out


def schedule_version(rows: Sequence[ScheduledGame]) -> str:
    return hashlib.sha256(_encoder.encode(list(rows))).hexdigest()
