"""The rosters read model: which players a team had for a season, as of a date.

Rows come from the store's ``rosters`` table, written by the live roster path
(``nbamcp.data.live_rosters``: nba_api's team rosters, dated the day they were
fetched). The roster model (``nbamcp.ml.rosters``) turns them into snapshots in
effect from their date on.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec

ROSTER_COLUMNS = ("season", "franchise_id", "as_of", "player_id", "nba_player_id", "name", "source")


class RosterEntry(msgspec.Struct, frozen=True):
    """One player on one team's roster for ``season``, from ``as_of`` ('YYYY-MM-DD') on."""

    season: int
    team: str  # franchise id
    as_of: str
    player_id: str  # Basketball-Reference id, or 'nba:<PLAYER_ID>' when no known player matched
    name: str
    nba_player_id: int | None = None
    source: str = "nba_api:CommonTeamRoster"


async def load_rosters(conn: aiosqlite.Connection, *, season: int | None = None) -> list[RosterEntry]:
    """Every stored roster entry (of one season when given), ordered by season, team, date, player."""
    sql = f"SELECT {', '.join(ROSTER_COLUMNS)} FROM rosters"
    args: list[object] = []
    if season is not None:
        sql += " WHERE season = ?"
        args.append(int(season))
    async with conn.execute(sql + " ORDER BY season, franchise_id, as_of, player_id", args) as cur:
        rows: Sequence[Sequence[object]] = list(await cur.fetchall())
    return [
        RosterEntry(
            season=int(str(r[0])),
            team=str(r[1]),
            as_of=str(r[2]),
            player_id=str(r[3]),
            nba_player_id=None if r[4] is None else int(str(r[4])),
            name=str(r[5]),
            source=str(r[6]),
        )
        for r in rows
    ]
