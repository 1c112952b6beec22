"""The season's schedule from stats.nba.com through ``nba_api``'s ScheduleLeagueV2.

The answer (the dict ``ScheduleLeagueV2(season=...).get_dict()`` returns:
``leagueSchedule.gameDates[].games[]``, each game with ``gameId``, ``gameStatus``
1 scheduled / 2 live / 3 final, ``gameDateEst``, ``gameDateTimeUTC``, ``isNeutral``
and ``homeTeam`` / ``awayTeam`` with ``teamId``) becomes the ``scheduled_games``
rows of that season: the games not played yet, regular season, play-in and
playoffs (preseason, All-Star and the NBA Cup final, which counts in no standings,
are left out; a playoff game whose teams are not known yet has ``teamId`` 0 and is
left out too). Fetching replaces the season's rows, so a postponed game moves and
a game played since leaves; the results themselves come from LeagueGameLog
(``nbamcp.data.live``). Tests feed recorded answers to ``response=`` and never
touch the network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from nbamcp.data.live import HOST, fetch
from nbamcp.data.live_rosters import nba_team_ids
from nbamcp.data.queries.common import parse_season, season_label
from nbamcp.data.store import Store
from nbamcp.errors import DataQualityError
from nbamcp.messages import ScheduledGame

SOURCE = "nba_api:ScheduleLeagueV2"
SCHEDULED = 1  # gameStatus: 1 not started, 2 in progress, 3 final
# The third character of a gameId: 02 regular season, 04 playoffs, 05 play-in
# (01 preseason, 03 All-Star and 06 the NBA Cup final are not games of the standings).
_KINDS = {"2": ("regular", False), "4": ("playoffs", False), "5": ("playoffs", True)}


class ScheduleReport(msgspec.Struct, frozen=True):
    season: int
    fetched_at: str
    scheduled: int  # games not played yet, now in the store
    played: int  # games of the answer already started or final (their results come from the game log)
    skipped: int  # preseason, All-Star, Cup final, teams not known yet
    first_date: str | None
    last_date: str | None

    @property
    def summary(self) -> str:
        span = f", {self.first_date} to {self.last_date}" if self.first_date else ""
        return (
            f"schedule {season_label(self.season)}: {self.scheduled:,} games not played yet{span} "
            f"({self.played:,} already started or played, {self.skipped:,} not league games)"
        )


def current_season(today: dt.date) -> int:
    """The season a schedule fetched on ``today`` is for: the league publishes the next season's
    schedule in August, so from August on it is the season ending next year."""
    return today.year + 1 if today.month >= 8 else today.year


def _games(response: Any) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """(seasonYear, [(gameDate, game)]) of a ScheduleLeagueV2 answer; DataQualityError if it is not one."""
    sched = response.get("leagueSchedule") if isinstance(response, dict) else None
    if not isinstance(sched, dict) or not isinstance(sched.get("gameDates"), list):
        raise DataQualityError(
            f"{HOST} answer has no leagueSchedule.gameDates: not a ScheduleLeagueV2 answer"
        )
    out = []
    for day in sched["gameDates"]:
        games = day.get("games") if isinstance(day, dict) else None
        if not isinstance(games, list):
            raise DataQualityError(f"{HOST} ScheduleLeagueV2: a gameDates entry has no games list")
        out += [(str(day.get("gameDate", "")), g) for g in games]
    return str(sched.get("seasonYear", "")), out


def _team(game: Mapping[str, Any], side: str) -> int:
    team = game.get(side)
    tid = team.get("teamId") if isinstance(team, dict) else None
    if not isinstance(tid, int):
        raise DataQualityError(f"{HOST} ScheduleLeagueV2: game {game.get('gameId')!r} has no {side}.teamId")
    return tid


def _date(game: Mapping[str, Any]) -> str:
    raw = str(game.get("gameDateEst") or "")[:10]
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise DataQualityError(
            f"{HOST} ScheduleLeagueV2: game {game.get('gameId')!r} has gameDateEst "
            f"{game.get('gameDateEst')!r}, not a date"
        ) from None


def scheduled_games(
    response: Any, *, season: int, team_ids: Mapping[int, str]
) -> tuple[list[ScheduledGame], int, int]:
    """(games not played yet, how many were started or final, how many are not league games)."""
    year, games = _games(response)
    if year and year != season_label(season):
        raise DataQualityError(f"{HOST} ScheduleLeagueV2 answer is for {year}, not {season_label(season)}")
    out: list[ScheduledGame] = []
    played = skipped = 0
    for _, g in games:
        gid = str(g.get("gameId") or "")
        kind = _KINDS.get(gid[2:3]) if len(gid) == 10 and gid.isdigit() else None
        home_id, away_id = _team(g, "homeTeam"), _team(g, "awayTeam")
        home, away = team_ids.get(home_id), team_ids.get(away_id)
        if kind is None or home is None or away is None:
            skipped += 1  # not a league game, or its teams are not decided yet (teamId 0)
            continue
        if g.get("gameStatus") != SCHEDULED:
            played += 1
            continue
        tip = str(g.get("gameDateTimeUTC") or "")
        out.append(
            ScheduledGame(
                game_id=gid,
                date=_date(g),
                season=season,
                season_type=kind[0],
                home=home,
                away=away,
                neutral=bool(g.get("isNeutral")),
                playin=kind[1],
                tip_utc=tip if len(tip) == 20 and tip.endswith("Z") else "",
            )
        )
    out.sort(key=lambda s: (s.date, s.tip_utc, s.game_id))
    return out, played, skipped


async def fetch_schedule(season: int | str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """ScheduleLeagueV2 for a season, as nba_api's dict."""
    label = season_label(parse_season(season))

    def call() -> dict[str, Any]:
        from nba_api.stats.endpoints.scheduleleaguev2 import ScheduleLeagueV2

        data: dict[str, Any] = ScheduleLeagueV2(league_id="00", season=label, timeout=timeout_s).get_dict()
        return data

    return await fetch(call, timeout_s)


async def ingest_live_schedule(
    store: Store,
    season: int | str,
    *,
    response: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    timeout_s: float = 10.0,
) -> ScheduleReport:
    """Fetch (or take the recorded ``response``) the season's schedule and make it the season's
    ``scheduled_games``; games whose result the store already has are left out."""
    s = parse_season(season)
    if response is None:
        response = await fetch_schedule(s, timeout_s=timeout_s)
    games, played, skipped = scheduled_games(response, season=s, team_ids=nba_team_ids())
    fetched_at = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with store.transaction() as conn:
        async with conn.execute("SELECT nba_game_id FROM games WHERE nba_game_id IS NOT NULL") as cur:
            have = {r[0] for r in await cur.fetchall()}
        games = [g for g in games if g.game_id not in have]
        await conn.execute("DELETE FROM scheduled_games WHERE season = ?", (s,))
        await conn.executemany(
            "INSERT INTO scheduled_games (game_id, date, tip_utc, season, season_type, playin, home, away, "
            "neutral, source, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (g.game_id, g.date, g.tip_utc, g.season, g.season_type, int(g.playin), g.home, g.away,
                 int(g.neutral), SOURCE, fetched_at)
                for g in games
            ],
        )  # fmt: skip
    store.bump()
    return ScheduleReport(
        season=s,
        fetched_at=fetched_at,
        scheduled=len(games),
        played=played,
        skipped=skipped,
        first_date=games[0].date if games else None,
        last_date=games[-1].date if games else None,
    )
