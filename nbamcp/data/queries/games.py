"""Game look-ups: filtered game lists and head-to-head records between two franchises."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.queries.common import check_choice, check_limit, parse_season, season_span
from nbamcp.data.queries.common import team as _team
from nbamcp.data.queries.coverage import coverage
from nbamcp.data.store import Store
from nbamcp.errors import InvalidInput
from nbamcp.messages import Coverage, GameList, GameOut, HeadToHead, Record, SeriesResult

GAME_TYPES = ("all", "regular", "playoffs", "playin")
_COLS = (
    "game_id, date, season, season_type, playin, home, away, home_code, away_code, home_pts, away_pts, "
    "neutral, sources, nba_game_id"
)
# Two franchises' meetings kept per version of the data (a pair of old rivals: ~500 rows).
MEETINGS_KEPT = 32
# A team's games of a season kept per version of the data (~80-110 games each).
TEAM_SEASONS_KEPT = 64


@functools.lru_cache(maxsize=4096)  # ~30 franchises x ~80 seasons; the table never changes
def _name_in(franchise: str, season: int) -> str:
    # A walk over the franchise's eras per call was a third of building a page of games.
    return FRANCHISES[franchise].name_in(season)


def game_out(r: Any) -> GameOut:
    home, away, season = r["home"], r["away"], r["season"]
    return GameOut(
        game_id=r["game_id"], date=r["date"], season=season, season_type=r["season_type"],
        playin=bool(r["playin"]), home=home, home_name=_name_in(home, season), away=away,
        away_name=_name_in(away, season), home_pts=r["home_pts"], away_pts=r["away_pts"],
        winner=home if r["home_pts"] > r["away_pts"] else away, neutral=bool(r["neutral"]),
        sources=r["sources"].split(","),
    )  # fmt: skip


def _iso(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2023-01-31, got {value!r}") from None


def type_filter(season_type: str) -> tuple[str, list[Any]]:
    st = check_choice(season_type, "season_type", GAME_TYPES)
    if st == "all":
        return "", []
    if st == "playin":
        return "playin = 1", []
    if st == "playoffs":
        return "season_type = 'playoffs' AND playin = 0", []
    return "season_type = 'regular'", []


async def games(
    store: Store,
    team: str | None = None,
    opponent: str | None = None,
    season: int | str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    season_type: str = "all",
    limit: int = 50,
) -> GameList:
    """Games matching every given filter, newest first; ``total`` counts all matches. A season or
    a date past the data's ends is answered (no games there) and said in ``note``."""
    check_limit(limit)
    where: list[str] = []
    args: list[object] = []
    first, last = await season_span(store)
    cov = await coverage(store)
    s = None if season is None else parse_season(season)
    outside = [f"season {s}"] if s is not None and not first <= s <= last else []
    if s is not None:
        where.append("season = ?")
        args.append(s)
    if opponent is not None and team is None:
        raise InvalidInput("opponent needs team: give both to list the games between two teams")
    if team is not None:
        t = _team(team, s)
        if opponent is not None:
            o = _team(opponent, s)
            if o.id == t.id:
                raise InvalidInput(f"team and opponent are the same franchise ({t.id})")
            where.append("((home = ? AND away = ?) OR (home = ? AND away = ?))")
            args += [t.id, o.id, o.id, t.id]
        else:
            where.append("(home = ? OR away = ?)")
            args += [t.id, t.id]
    d_from, d_to = _iso(date_from, "date_from"), _iso(date_to, "date_to")
    if d_from and d_to and d_from > d_to:
        raise InvalidInput(f"date_from {d_from} is after date_to {d_to}")
    for name, d in (("date_from", d_from), ("date_to", d_to)):
        if d and cov.first_game and cov.data_through and not cov.first_game <= d <= cov.data_through:
            outside.append(f"{name} {d}")
    if d_from:
        where.append("date >= ?")
        args.append(d_from)
    if d_to:
        where.append("date <= ?")
        args.append(d_to)
    cond, _ = type_filter(season_type)
    note = _outside_note(outside, cov, first, last)
    if team is not None and s is not None:
        # A team's season (the usual question) from its games kept per version of the data: the
        # filters, the count and the page in memory; other dates, types, opponents or limits
        # for the same team and season read nothing more.
        kept = await store.kept(
            "team_games", (t.id, s), lambda: _team_games(store, t.id, s), max_entries=TEAM_SEASONS_KEPT
        )
        st = check_choice(season_type, "season_type", GAME_TYPES)
        other = None if opponent is None else o.id
        match = [
            g
            for g in kept
            if (other is None or other in (g.home, g.away))
            and (not d_from or g.date >= d_from)
            and (not d_to or g.date <= d_to)
            and _of_type(g, st)
        ]
        return GameList(
            len(match), limit, "newest first", match[:limit], data_through=cov.data_through, note=note
        )
    if cond:
        where.append(cond)
    sql_where = (" WHERE " + " AND ".join(where)) if where else ""
    # One trip to aiosqlite's thread, not two: the count rides on every row as a scalar subquery
    # (SQLite runs an uncorrelated one once); no row means no match, so a total of 0.
    rows = await store.fetchall(
        f"SELECT (SELECT COUNT(*) FROM games{sql_where}) AS total, {_COLS} FROM games{sql_where} "
        "ORDER BY date DESC, game_id DESC LIMIT ?",
        [*args, *args, limit],
    )
    return GameList(
        int(rows[0]["total"]) if rows else 0, limit, "newest first", [game_out(r) for r in rows],
        data_through=cov.data_through, note=note,
    )  # fmt: skip


async def _team_games(store: Store, team: str, season: int) -> list[GameOut]:
    """A team's games of a season, newest first (the order ``games`` lists them in)."""
    rows = await store.fetchall(
        f"SELECT {_COLS} FROM games WHERE season = ? AND (home = ? OR away = ?) "
        "ORDER BY date DESC, game_id DESC",
        (season, team, team),
    )
    return [game_out(r) for r in rows]


def _of_type(g: GameOut, season_type: str) -> bool:
    """``type_filter``'s condition, on a game already read."""
    if season_type == "all":
        return True
    if season_type == "playin":
        return g.playin
    if season_type == "playoffs":
        return g.season_type == "playoffs" and not g.playin
    return g.season_type == "regular"


def _outside_note(asked: list[str], cov: Coverage, first: int, last: int) -> str:
    if not asked:
        return ""
    verb = "lies" if len(asked) == 1 else "lie"
    return (
        f"the game results cover {cov.first_game} to {cov.data_through} (seasons {first}-{last}): "
        f"{' and '.join(asked)} {verb} outside them, where no games are known"
    )


async def _meetings(store: Store, a: str, b: str, lo: int, hi: int) -> list[Any]:
    return await store.fetchall(
        f"SELECT {_COLS} FROM games WHERE ((home = ? AND away = ?) OR (home = ? AND away = ?)) "
        "AND season BETWEEN ? AND ? ORDER BY date, game_id",
        (a, b, b, a, lo, hi),
    )


async def head_to_head(
    store: Store,
    team_a: str,
    team_b: str,
    season_from: int | str | None = None,
    season_to: int | str | None = None,
) -> HeadToHead:
    """Every meeting of two franchises (all their eras) in the season range, from team_a's side.
    A range reaching past the data is cut to it, and ``note`` says so."""
    first, last = await season_span(store)
    cov = await coverage(store)
    lo = first if season_from is None else parse_season(season_from)
    hi = last if season_to is None else parse_season(season_to)
    if lo > hi:
        raise InvalidInput(f"season_from {lo} is after season_to {hi}")
    asked = [f"season {x}" for x in dict.fromkeys((lo, hi)) if not first <= x <= last]
    note = _outside_note(asked, cov, first, last)
    if max(lo, first) <= min(hi, last):  # else no season of the range has games: nothing to cut
        lo, hi = max(lo, first), min(hi, last)
    a, b = _team(team_a), _team(team_b)
    if a.id == b.id:
        raise InvalidInput(f"team_a and team_b are the same franchise ({a.id}: {a.name})")
    rows = await store.kept(
        "meetings",
        (*sorted((a.id, b.id)), lo, hi),
        lambda: _meetings(store, a.id, b.id, lo, hi),
        max_entries=MEETINGS_KEPT,
    )
    # Tallies straight from the rows: only the ten most recent become GameOut.
    rec = {"regular": [0, 0], "playoffs": [0, 0], "home": [0, 0]}
    margin = 0
    series: dict[int, list[int]] = {}
    for r in rows:
        home_pts, away_pts, a_home = r["home_pts"], r["away_pts"], r["home"] == a.id
        a_won = (home_pts > away_pts) == a_home
        playoff = r["season_type"] == "playoffs"
        rec["playoffs" if playoff else "regular"][0 if a_won else 1] += 1
        if a_home and not r["neutral"]:
            rec["home"][0 if a_won else 1] += 1
        margin += (home_pts - away_pts) * (1 if a_home else -1)
        if playoff and not r["playin"]:
            series.setdefault(r["season"], [0, 0])[0 if a_won else 1] += 1
    out = rows
    a_wins = rec["regular"][0] + rec["playoffs"][0]
    return HeadToHead(
        team_a=a.id, team_a_name=a.name, team_b=b.id, team_b_name=b.name, season_from=lo, season_to=hi,
        games=len(out), a_wins=a_wins, b_wins=len(out) - a_wins,
        regular=Record(*rec["regular"]), playoffs=Record(*rec["playoffs"]), a_at_home=Record(*rec["home"]),
        a_avg_margin=round(margin / len(out), 1) if out else None,
        playoff_series=[
            SeriesResult(season, a.id if w > lost else b.id, w, lost)
            for season, (w, lost) in sorted(series.items())
        ],
        first_meeting=out[0]["date"] if out else None, last_meeting=out[-1]["date"] if out else None,
        recent=[game_out(r) for r in reversed(out[-10:])], data_through=cov.data_through, note=note,
    )  # fmt: skip


__all__ = [
    "GAME_TYPES",
    "GameList",
    "GameOut",
    "HeadToHead",
    "Record",
    "games",
    "head_to_head",
    "parse_season",
]
