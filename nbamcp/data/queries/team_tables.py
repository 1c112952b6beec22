"""Team seasons from Basketball-Reference's season table (1990 on).

Two uses: the ratings (SRS, pace, offensive and defensive rating) beside any season
computed from the games, and the whole answer for a season the game results do not
reach (2024 today): record, finishing place, playoff result and ratings, labelled
``source="team_seasons"``, with nothing invented for what the table lacks (home/away
splits, points, playoff games are None).
"""

from __future__ import annotations

from typing import Any

from nbamcp.data.divisions import CONFERENCES, place
from nbamcp.data.franchises import FRANCHISES, Franchise
from nbamcp.data.store import Store
from nbamcp.messages import PlayoffRun, StandingRow, StandingsGroup, TeamRatings

SOURCE = "team_seasons"
SOURCE_NOTE = (
    "from Basketball-Reference's team-season table: the game results end before this season, so "
    "home/away splits, points and playoff games are not known"
)
_EXITS = {
    "1st Rnd. Exit": (1, "First Round"),
    "2nd Rnd. Exit": (2, "Conference Semifinals"),
    "Conf. Finals": (3, "Conference Finals"),
    "Finals": (4, "Finals"),
    "Championship": (4, "Finals"),
}
_COLS = "franchise_id, season, w, l, finish, srs, pace, ortg, drtg, nrtg, playoffs, sw, sl"


async def table_row(store: Store, fid: str, season: int) -> dict[str, Any] | None:
    row = await store.fetchone(
        f"SELECT {_COLS} FROM team_seasons_bref WHERE franchise_id = ? AND season = ?", (fid, season)
    )
    return dict(row) if row is not None else None


async def season_rows(store: Store, season: int) -> list[dict[str, Any]]:
    rows = await store.fetchall(f"SELECT {_COLS} FROM team_seasons_bref WHERE season = ?", (season,))
    return [dict(r) for r in rows]


async def table_seasons(store: Store) -> tuple[int, int] | None:
    """(first, last) season of the table; None when it is empty."""
    span = store.cache.get("span:team_seasons_bref")
    if span is None:
        row = await store.fetchone("SELECT MIN(season), MAX(season) FROM team_seasons_bref")
        span = (int(row[0]), int(row[1])) if row is not None and row[0] is not None else ()
        store.cache["span:team_seasons_bref"] = span
    return span or None


def ratings(row: dict[str, Any] | None) -> TeamRatings | None:
    if row is None:
        return None
    return TeamRatings(srs=row["srs"], pace=row["pace"], ortg=row["ortg"], drtg=row["drtg"], nrtg=row["nrtg"])


def playoff_run(row: dict[str, Any], season: int) -> PlayoffRun:
    """The playoff result as the table states it: series won, how far, no games."""
    exit_ = _EXITS.get(row["playoffs"] or "")
    if exit_ is None:
        return PlayoffRun(False, None, None, [], 0, False, "did not make the playoffs")
    _, round_name = exit_
    champion = row["playoffs"] == "Championship"
    result = f"won the {season} NBA Finals (champion)" if champion else f"lost in the {round_name}"
    return PlayoffRun(True, None, None, [], int(row["sw"] or 0), champion, result)


def standings_groups(rows: list[dict[str, Any]], season: int, conf: str | None) -> list[StandingsGroup]:
    """Conference standings (``conf``: 'East', 'West' or both) from the table's records (ties:
    more wins first, then the id)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cd = place(r["franchise_id"], season)
        if cd is not None:
            groups.setdefault(cd[0], []).append({**r, "cd": cd})
    out = []
    for name in CONFERENCES:
        if name not in groups or (conf is not None and name != conf):
            continue
        ranked = sorted(groups[name], key=lambda t: (-t["w"] / (t["w"] + t["l"]), -t["w"], t["franchise_id"]))
        lead = ranked[0]
        out.append(
            StandingsGroup(
                name,
                [
                    StandingRow(
                        rank=i + 1,
                        team=t["franchise_id"],
                        name=_name(FRANCHISES[t["franchise_id"]], season),
                        conference=t["cd"][0],
                        division=t["cd"][1],
                        wins=t["w"],
                        losses=t["l"],
                        win_pct=round(t["w"] / (t["w"] + t["l"]), 3),
                        games_behind=((lead["w"] - t["w"]) + (t["l"] - lead["l"])) / 2,
                        home=None,
                        away=None,
                        pts_for=None,
                        pts_against=None,
                        avg_margin=None,
                    )
                    for i, t in enumerate(ranked)
                ],
            )
        )
    return out


def _name(f: Franchise, season: int) -> str:
    return f.name_in(season)
