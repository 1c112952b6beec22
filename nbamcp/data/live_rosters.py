"""Live team rosters from stats.nba.com through ``nba_api``'s CommonTeamRoster.

One call per team (``CommonTeamRoster(team_id, season)``, the dict
``get_dict()`` returns: ``resultSets`` "CommonTeamRoster" and "Coaches"); the
players become ``rosters`` rows dated the day they were fetched (``as_of``):
the opening-night roster when fetched before the season, the current one
after, and a later fetch after a trade is a new snapshot in effect from its own
date. nba_api's numeric ``TeamID`` maps to the franchise through its bundled
team list; ``PLAYER`` maps to the Basketball-Reference id by an exact
(accent/case-insensitive) name match with a known player, then by the same
match without a generational suffix (stats.nba.com writes "Reggie Bullock Jr.",
Basketball-Reference "Reggie Bullock"), else the row keeps
``nba:<PLAYER_ID>`` (a rookie: the roster model gives him the no-history
prior). Tests feed recorded responses to ``responses=`` and never touch the
network.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from nbamcp.data.franchises import code_to_franchise, normalize
from nbamcp.data.ingest.runner import player_names
from nbamcp.data.live import HOST, fetch, result_set
from nbamcp.data.queries.common import parse_season, season_label
from nbamcp.data.rosters import RosterEntry
from nbamcp.data.store import Store
from nbamcp.errors import DataQualityError, InvalidInput

ROSTER_SET = "CommonTeamRoster"
SOURCE = "nba_api:CommonTeamRoster"
REQUIRED = ("TeamID", "SEASON", "PLAYER", "PLAYER_ID")
_SUFFIX = re.compile(r"\s+(jr|sr|ii|iii|iv|v)\.?$")


class RosterReport(msgspec.Struct, frozen=True):
    season: int
    as_of: str
    teams: list[str]
    players: int
    unmatched: list[str]  # players kept under their nba_api id (no known player of that name)

    @property
    def summary(self) -> str:
        new = f"; {len(self.unmatched)} not matched to a known player" if self.unmatched else ""
        return (
            f"rosters {season_label(self.season)} as of {self.as_of}: {len(self.teams)} teams, "
            f"{self.players} players{new}"
        )


def nba_team_ids() -> dict[int, str]:
    """nba_api's TeamID -> franchise id, for the 30 current teams (nba_api's bundled list)."""
    from nba_api.stats.static import teams

    codes = code_to_franchise()
    return {int(t["id"]): codes[str(t["abbreviation"])] for t in teams.get_teams()}


def _without_suffix(key: str) -> str:
    return _SUFFIX.sub("", key)


def name_matcher(name_to_id: Mapping[str, str]) -> dict[str, str]:
    """Normalized name -> id, plus suffix-less names that stay unique."""
    loose: dict[str, str | None] = {}
    for key, pid in name_to_id.items():
        k = _without_suffix(key)
        loose[k] = None if k in loose and loose[k] != pid else pid
    return {**{k: v for k, v in loose.items() if v is not None}, **name_to_id}


def roster_entries(
    response: Any, *, season: int, as_of: str, name_to_id: Mapping[str, str], team_ids: Mapping[int, str]
) -> list[RosterEntry]:
    """One CommonTeamRoster response as roster entries; DataQualityError when it is not one."""
    headers, rows = result_set(response, ROSTER_SET)
    missing = [h for h in REQUIRED if h not in headers]
    if missing:
        raise DataQualityError(f"{HOST} {ROSTER_SET} lacks columns {', '.join(missing)}")
    col = {h: headers.index(h) for h in REQUIRED}
    out = []
    for r in rows:
        team_id, start, name, nba_id = (r[col[h]] for h in REQUIRED)
        team = team_ids.get(int(team_id)) if str(team_id).isdigit() else None
        if team is None:
            raise DataQualityError(f"{HOST} {ROSTER_SET}: TeamID {team_id!r} is not a known NBA team")
        if not str(start).isdigit() or int(start) + 1 != season:
            raise DataQualityError(
                f"{HOST} {ROSTER_SET}: SEASON {start!r} is not {season_label(season)} "
                f"(start year {season - 1})"
            )
        if not name or not str(nba_id).isdigit():
            raise DataQualityError(
                f"{HOST} {ROSTER_SET}: a row has no PLAYER or PLAYER_ID ({name!r}, {nba_id!r})"
            )
        out.append(
            RosterEntry(
                season=season,
                team=team,
                as_of=as_of,
                player_id=name_to_id.get(normalize(str(name)))
                or name_to_id.get(_without_suffix(normalize(str(name))), f"nba:{nba_id}"),
                name=str(name),
                nba_player_id=int(nba_id),
                source=SOURCE,
            )
        )
    return out


async def fetch_team_roster(team_id: int, season: int | str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """CommonTeamRoster of one team for a season, as nba_api's dict."""
    label = season_label(parse_season(season))

    def call() -> dict[str, Any]:
        from nba_api.stats.endpoints.commonteamroster import CommonTeamRoster

        data: dict[str, Any] = CommonTeamRoster(team_id=team_id, season=label, timeout=timeout_s).get_dict()
        return data

    return await fetch(call, timeout_s)


async def ingest_live_rosters(
    store: Store,
    season: int | str,
    *,
    responses: Mapping[int, dict[str, Any]] | None = None,
    today: dt.date | None = None,
    timeout_s: float = 10.0,
) -> RosterReport:
    """Fetch every team's roster (or take the recorded ``responses``, by TeamID) and store them
    as of ``today``; fetching the same day again replaces that day's snapshot."""
    s = parse_season(season)
    team_ids = nba_team_ids()
    if responses is None:
        responses = {tid: await fetch_team_roster(tid, s, timeout_s=timeout_s) for tid in sorted(team_ids)}
    if not responses:
        raise InvalidInput("no roster responses to ingest")
    as_of = (today or dt.date.today()).isoformat()
    names = name_matcher(await player_names(store))
    by_team: dict[str, list[RosterEntry]] = {}
    for tid, response in responses.items():
        entries = roster_entries(response, season=s, as_of=as_of, name_to_id=names, team_ids=team_ids)
        if tid not in team_ids or any(e.team != team_ids[tid] for e in entries):
            raise DataQualityError(f"the roster answer for TeamID {tid} holds another team's players")
        by_team[team_ids[tid]] = entries
    async with store.transaction() as conn:
        for team, entries in by_team.items():
            await conn.execute(
                "DELETE FROM rosters WHERE season = ? AND franchise_id = ? AND as_of = ?", (s, team, as_of)
            )
            await conn.executemany(
                "INSERT INTO rosters (season, franchise_id, as_of, player_id, nba_player_id, name, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (e.season, e.team, e.as_of, e.player_id, e.nba_player_id, e.name, e.source)
                    for e in entries
                ],
            )
    everyone = [e for es in by_team.values() for e in es]
    return RosterReport(
        season=s,
        as_of=as_of,
        teams=sorted(by_team),
        players=len(everyone),
        unmatched=sorted(e.name for e in everyone if e.player_id.startswith("nba:")),
    )
