"""Team queries computed from games: a team's season (record, splits, playoff run) and standings.

Conference and division come from :mod:`nbamcp.data.divisions` (1990 on); earlier
standings are league-wide (NBA, ABA, BAA). Known gaps of the source file are
stated in ``notes`` rather than papered over.
"""

from __future__ import annotations

from typing import Any

from nbamcp.data.divisions import CONFERENCES, FIRST_ALIGNED_SEASON, parse_conference, place
from nbamcp.data.franchises import FRANCHISES, Franchise
from nbamcp.data.queries import team_tables
from nbamcp.data.queries.common import parse_season, season_label, season_span
from nbamcp.data.queries.common import team as _team
from nbamcp.data.queries.coverage import coverage
from nbamcp.data.queries.games import game_out
from nbamcp.data.queries.playoffs import Bracket, bracket, round_name
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.messages import (
    PlayoffRun,
    PlayoffSeries,
    Split,
    StandingRow,
    Standings,
    StandingsGroup,
    TeamSeason,
)

_COLS = "game_id, date, season, season_type, playin, home, away, home_pts, away_pts, neutral, sources"
# Seasons whose records and playoffs are kept per version of the data (~30 teams, ~90 games each).
SEASONS_KEPT = 32
TEAMS_KEPT = 512  # one team's season record (a small dict each), when no season's records are kept


async def _season_games(store: Store, season: int, season_type: str) -> list[Any]:
    return await store.fetchall(
        f"SELECT {_COLS} FROM games WHERE season = ? AND season_type = ? ORDER BY date, game_id",
        (season, season_type),
    )


async def _playoffs(store: Store, season: int) -> tuple[list[Any], Bracket]:
    """The season's playoff games and their bracket, kept per version of the data (read only)."""

    async def read() -> tuple[list[Any], Bracket]:
        games = await _season_games(store, season, "playoffs")
        return games, bracket(season, games)

    return await store.kept("season_playoffs", season, read, max_entries=SEASONS_KEPT)


async def _team_games(store: Store, season: int, fid: str) -> list[Any]:
    """One franchise's regular-season games (through the home and away indexes)."""
    return await store.fetchall(
        f"SELECT {_COLS} FROM games WHERE season = ? AND season_type = 'regular' AND home = ? "
        f"UNION ALL SELECT {_COLS} FROM games WHERE season = ? AND season_type = 'regular' AND away = ? "
        "ORDER BY date, game_id",
        (season, fid, season, fid),
    )


async def _team_record(store: Store, season: int, fid: str) -> dict[str, Any] | None:
    """One franchise's regular-season record (None: no games): from the season's records when
    standings left them kept, else from its own games (a fifteenth of the season's), kept."""
    season_records = store.peek("season_records", season)
    if season_records is not None:
        return season_records.get(fid)

    async def own() -> dict[str, Any] | None:
        games = await _team_games(store, season, fid)
        return _record(games, fid) if games else None

    return await store.kept("team_records", (season, fid), own, max_entries=TEAMS_KEPT)


async def _last_dates(store: Store) -> dict[int, str]:
    """season -> date of its last regular-season game; cached per store generation."""
    last = store.cache.get("last_regular_dates")
    if last is None:
        rows = await store.fetchall(
            "SELECT season, MAX(date) FROM games WHERE season_type = 'regular' GROUP BY season"
        )
        last = store.cache["last_regular_dates"] = {int(r[0]): r[1] for r in rows}
    return last


# Every team's regular-season record by side (0 home, 1 away) and site, summed by SQLite.
# A tie (never in the data) counts as a loss.
_RECORDS = """
SELECT 0, home, neutral, COUNT(*), SUM(home_pts > away_pts), SUM(home_pts), SUM(away_pts)
FROM games WHERE season = ? AND season_type = 'regular' GROUP BY home, neutral
UNION ALL
SELECT 1, away, neutral, COUNT(*), SUM(away_pts > home_pts), SUM(away_pts), SUM(home_pts)
FROM games WHERE season = ? AND season_type = 'regular' GROUP BY away, neutral
"""


async def _records(store: Store, season: int) -> dict[str, dict[str, Any]]:
    """franchise id -> the ``_record`` of its regular season, for every team that played; kept per
    version of the data (standings and every team's season read them: read only)."""
    return await store.kept(
        "season_records", season, lambda: _sum_records(store, season), max_entries=SEASONS_KEPT
    )


async def _sum_records(store: Store, season: int) -> dict[str, dict[str, Any]]:
    recs: dict[str, dict[str, Any]] = {}
    for side, fid, neutral, n, w, pf, pa in await store.fetchall(_RECORDS, (season, season)):
        rec = recs.setdefault(
            fid, {"w": 0, "l": 0, "home": [0, 0], "away": [0, 0], "neutral": [0, 0], "pf": 0, "pa": 0}
        )
        split = rec["neutral" if neutral else ("away" if side else "home")]
        split[0] += w
        split[1] += n - w
        rec["w"] += w
        rec["l"] += n - w
        rec["pf"] += pf
        rec["pa"] += pa
    return recs


def _notes(season: int, last: str | None, playoffs: list[Any], br: Bracket, latest: int) -> list[str]:
    """``last``: the date of the season's last regular-season game (None without any)."""
    notes = []
    if season == 2020 and last and last < "2020-07-01":
        notes.append(
            f"the data stops on {last}: the 2020 bubble games and the 2020 playoffs are not in "
            "FiveThirtyEight's file"
        )
    elif not playoffs and season < latest:
        notes.append(f"no playoff games in the data for {season}")
    for league in br.finals_missing:
        notes.append(f"the {season} {league} Finals are not in the data: no champion is named")
    return notes


def _record(games: list[Any], fid: str) -> dict[str, Any]:
    """The record ``_records`` sums in SQLite, from one team's games."""
    rec: dict[str, Any] = {
        "w": 0,
        "l": 0,
        "home": [0, 0],
        "away": [0, 0],
        "neutral": [0, 0],
        "pf": 0,
        "pa": 0,
    }
    for g in games:
        is_home = g["home"] == fid
        pf, pa = (g["home_pts"], g["away_pts"]) if is_home else (g["away_pts"], g["home_pts"])
        won = pf > pa
        rec["w" if won else "l"] += 1
        where = "neutral" if g["neutral"] else ("home" if is_home else "away")
        rec[where][0 if won else 1] += 1
        rec["pf"] += pf
        rec["pa"] += pa
    return rec


def _run(fid: str, season: int, br: Bracket, playoff_games: list[Any]) -> PlayoffRun:
    mine = [s for s in br.series if fid in (s.team_a, s.team_b)]
    if not mine:
        text = "no playoff games in the data" if not playoff_games else "did not make the playoffs"
        return PlayoffRun(False, 0, 0, [], 0, False, text)
    out = []
    for s in mine:
        opp = s.team_b if s.team_a == fid else s.team_a
        w, lost = (s.a_wins, s.b_wins) if s.team_a == fid else (s.b_wins, s.a_wins)
        name = round_name(s.round, br.rounds[s.league], season, s.league, s.league not in br.finals_missing)
        won = None if s.winner is None else s.winner == fid
        out.append(PlayoffSeries(s.round, name, opp, FRANCHISES[opp].name_in(season), w, lost, won))
    last = out[-1]
    league = mine[-1].league
    champion = br.champions.get(league) == fid
    if champion:
        result = f"won the {season} {league} Finals (champion)"
    elif last.won is False:
        result = f"lost in the {last.round_name} to {last.opponent_name} ({last.wins}-{last.losses})"
    elif league in br.finals_missing:
        result = f"won the {last.round_name}; the Finals are not in the data"
    else:
        result = f"{last.round_name} {last.wins}-{last.losses} against {last.opponent_name}"
    return PlayoffRun(
        True,
        sum(s.wins for s in out),
        sum(s.losses for s in out),
        out,
        sum(1 for s in out if s.won),
        champion,
        result,
    )


async def _season_source(store: Store, season: int | str) -> tuple[int, str]:
    """The season, and where its team facts come from: the games, else the team-season table."""
    s = parse_season(season)
    first, last = await season_span(store)
    if first <= s <= last:
        return s, "games"
    table = await team_tables.table_seasons(store)
    if table is not None and table[0] <= s <= table[1]:
        return s, team_tables.SOURCE
    tables = f", team seasons {table[0]}-{table[1]}" if table else ""
    raise InvalidInput(
        f"season: no team data for season {s}: game results cover seasons {first}-{last}{tables} "
        f"(a season is named by its end year: 2023 = {season_label(2023)})",
        details={"param": "season", "first": str(first), "last": str(table[1] if table else last)},
    )


async def _from_table(store: Store, f: Franchise, s: int) -> TeamSeason:
    row = await team_tables.table_row(store, f.id, s)
    if row is None:
        raise NotFound(f"{f.name} ({f.id}) has no {s} season in Basketball-Reference's team-season table")
    n = row["w"] + row["l"]
    era = f.era(s)
    conf_div = place(f.id, s)
    through = (await coverage(store)).data_through
    return TeamSeason(
        franchise=f.id, name=f.name_in(s), season=s, season_label=season_label(s),
        league=era.league_in(s) if era else "NBA",
        conference=conf_div[0] if conf_div else None, division=conf_div[1] if conf_div else None,
        games=n, wins=row["w"], losses=row["l"], win_pct=round(row["w"] / n, 3) if n else 0.0,
        home=None, away=None, neutral=None, pts_for=None, pts_against=None, avg_margin=None, playin=[],
        playoffs=team_tables.playoff_run(row, s),
        notes=[
            f"{team_tables.SOURCE_NOTE} (they end on {through})",
            f"finished {row['finish']} in its division",
        ],
        source=team_tables.SOURCE, ratings=team_tables.ratings(row), data_through=through,
    )  # fmt: skip


async def team_season(store: Store, team: str, season: int | str) -> TeamSeason:
    """A franchise's season from its games (record, splits, scoring, playoff run); a season the
    games do not reach from Basketball-Reference's team-season table, labelled as such."""
    s, source = await _season_source(store, season)
    f = _team(team, s)
    if source == team_tables.SOURCE:
        return await _from_table(store, f, s)
    rec = await _team_record(store, s, f.id)
    playoffs_all, br = await _playoffs(store, s)
    if rec is None:
        seasons = await store.fetchall(
            "SELECT MIN(season), MAX(season) FROM games WHERE home = ? OR away = ?", (f.id, f.id)
        )
        lo, hi = seasons[0]
        span = f"its seasons in the data: {lo}-{hi}" if lo is not None else "it has no games in the data"
        raise NotFound(f"{f.name} ({f.id}) played no regular-season games in {s}; {span}")
    n = rec["w"] + rec["l"]
    latest = (await season_span(store))[1]
    last_date = (await _last_dates(store)).get(s)
    era = f.era(s)
    conf_div = place(f.id, s)
    return TeamSeason(
        franchise=f.id, name=f.name_in(s), season=s, season_label=season_label(s),
        league=era.league_in(s) if era else "NBA",
        conference=conf_div[0] if conf_div else None, division=conf_div[1] if conf_div else None,
        games=n, wins=rec["w"], losses=rec["l"], win_pct=round(rec["w"] / n, 3),
        home=Split(*rec["home"]), away=Split(*rec["away"]), neutral=Split(*rec["neutral"]),
        pts_for=round(rec["pf"] / n, 1), pts_against=round(rec["pa"] / n, 1),
        avg_margin=round((rec["pf"] - rec["pa"]) / n, 1),
        playin=[game_out(g) for g in playoffs_all if g["playin"] and f.id in (g["home"], g["away"])],
        playoffs=_run(f.id, s, br, playoffs_all),
        notes=_notes(s, last_date, playoffs_all, br, latest),
        ratings=team_tables.ratings(await team_tables.table_row(store, f.id, s)),
        data_through=(await coverage(store)).data_through,
    )  # fmt: skip


async def standings(store: Store, season: int | str, conference: str | None = None) -> Standings:
    """Regular-season standings from games: by conference from 1990, by league before; a season
    the games do not reach from Basketball-Reference's team-season table, labelled as such."""
    s, source = await _season_source(store, season)
    through = (await coverage(store)).data_through
    conf = None if conference is None else parse_conference(conference)
    if source == team_tables.SOURCE:
        table = team_tables.standings_groups(await team_tables.season_rows(store, s), s, conf)
        notes = [f"{team_tables.SOURCE_NOTE} (they end on {through})"]
        return Standings(
            s, season_label(s), conf, "", table, notes, source=team_tables.SOURCE, data_through=through
        )
    if conf is not None and s < FIRST_ALIGNED_SEASON:
        raise InvalidInput(
            f"conference alignment is known from {FIRST_ALIGNED_SEASON} on; for {s} ask without a "
            "conference (league-wide standings)"
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    records = await _records(store, s)
    for fid in sorted(records):
        rec = records[fid]
        cd = place(fid, s)
        era = FRANCHISES[fid].era(s)
        group = cd[0] if cd else (era.league_in(s) if era else "NBA")
        n = rec["w"] + rec["l"]
        groups.setdefault(group, []).append(
            {"fid": fid, "cd": cd, "w": rec["w"], "l": rec["l"], "pct": rec["w"] / n, "rec": rec, "n": n}
        )
    order = [g for g in (*CONFERENCES, "NBA", "BAA", "ABA") if g in groups]
    out = []
    for name in order:
        if conf is not None and name != conf:
            continue
        rows = sorted(groups[name], key=lambda t: (-t["pct"], -t["w"], t["fid"]))
        lead = rows[0]
        out.append(
            StandingsGroup(
                name,
                [
                    StandingRow(
                        rank=i + 1,
                        team=t["fid"],
                        name=FRANCHISES[t["fid"]].name_in(s),
                        conference=t["cd"][0] if t["cd"] else None,
                        division=t["cd"][1] if t["cd"] else None,
                        wins=t["w"],
                        losses=t["l"],
                        win_pct=round(t["pct"], 3),
                        games_behind=((lead["w"] - t["w"]) + (t["l"] - lead["l"])) / 2,
                        home="{}-{}".format(*t["rec"]["home"]),
                        away="{}-{}".format(*t["rec"]["away"]),
                        pts_for=round(t["rec"]["pf"] / t["n"], 1),
                        pts_against=round(t["rec"]["pa"] / t["n"], 1),
                        avg_margin=round((t["rec"]["pf"] - t["rec"]["pa"]) / t["n"], 1),
                    )
                    for i, t in enumerate(rows)
                ],
            )
        )
    playoffs, br = await _playoffs(store, s)
    latest = (await season_span(store))[1]
    last_date = (await _last_dates(store)).get(s)
    notes = _notes(s, last_date, playoffs, br, latest)
    return Standings(s, season_label(s), conf, last_date or "", out, notes, data_through=through)
