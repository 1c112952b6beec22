"""Playoff series and rounds, rebuilt from a season's playoff games alone.

A series is every playoff game (play-in excluded) between two teams in a season.
Its round is one more than the later of the two teams' previous rounds, so a team
with a first-round bye enters in round 2. Per league (NBA/ABA/BAA), the Finals are
the one deepest series, and only when the league's bracket is connected: in 2023,
where FiveThirtyEight's file lacks the Finals, East and West stay apart and no
champion is named. Formats before the 1980s (byes, round robins in 1954) give
approximate round numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from nbamcp.data.franchises import FRANCHISES

MODERN_ROUNDS = ("First Round", "Conference Semifinals", "Conference Finals", "Finals")


class Series(msgspec.Struct, frozen=True):
    round: int
    team_a: str
    team_b: str
    a_wins: int
    b_wins: int
    winner: str | None
    first_date: str
    last_date: str
    league: str
    finals: bool


class Bracket(msgspec.Struct, frozen=True):
    season: int
    series: list[Series]
    champions: dict[str, str]  # league -> champion franchise id (known Finals only)
    rounds: dict[str, int]  # league -> deepest round in the data
    finals_missing: list[str]  # leagues whose Finals are not in the data


def _league(fid: str, season: int) -> str:
    era = FRANCHISES[fid].era(season)
    return era.league_in(season) if era else "NBA"


def bracket(season: int, games: Iterable[Any]) -> Bracket:
    """``games``: playoff rows (date, home, away, home_pts, away_pts, playin) of one season."""
    pairs: dict[frozenset[str], dict[str, Any]] = {}
    for g in sorted(games, key=lambda g: g["date"]):
        if g["playin"]:
            continue
        key = frozenset((g["home"], g["away"]))
        s = pairs.setdefault(key, {"teams": sorted(key), "wins": {}, "first": g["date"], "last": g["date"]})
        winner = g["home"] if g["home_pts"] > g["away_pts"] else g["away"]
        s["wins"][winner] = s["wins"].get(winner, 0) + 1
        s["last"] = g["date"]
    depth: dict[str, int] = {}
    built: list[dict[str, Any]] = []
    for s in sorted(pairs.values(), key=lambda s: (s["first"], s["teams"])):
        a, b = s["teams"]
        rnd = 1 + max(depth.get(a, 0), depth.get(b, 0))
        depth[a] = depth[b] = rnd
        aw, bw = s["wins"].get(a, 0), s["wins"].get(b, 0)
        winner = a if aw > bw else b if bw > aw else None
        built.append({"round": rnd, "a": a, "b": b, "aw": aw, "bw": bw, "winner": winner,
                      "first": s["first"], "last": s["last"], "league": _league(a, season)})  # fmt: skip
    champions: dict[str, str] = {}
    rounds: dict[str, int] = {}
    missing: list[str] = []
    finals_keys: set[tuple[str, str]] = set()
    for league in sorted({s["league"] for s in built}):
        mine = [s for s in built if s["league"] == league]
        top = max(s["round"] for s in mine)
        rounds[league] = top
        deepest = [s for s in mine if s["round"] == top]
        if len(deepest) == 1 and _connected(mine):
            finals_keys.add((deepest[0]["a"], deepest[0]["b"]))
            if deepest[0]["winner"]:
                champions[league] = deepest[0]["winner"]
        else:
            missing.append(league)
    series = [
        Series(
            s["round"],
            s["a"],
            s["b"],
            s["aw"],
            s["bw"],
            s["winner"],
            s["first"],
            s["last"],
            s["league"],
            (s["a"], s["b"]) in finals_keys,
        )
        for s in built
    ]
    return Bracket(season, series, champions, rounds, missing)


def _connected(series: list[dict[str, Any]]) -> bool:
    """Whether the teams of these series form one bracket (union-find over the pairs)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s in series:
        parent[find(s["a"])] = find(s["b"])
    return len({find(t) for t in list(parent)}) == 1


def round_name(rnd: int, total: int, season: int, league: str, finals_known: bool) -> str:
    """Since 1984 the NBA plays four rounds of 16 teams: name them; else number them."""
    if league == "NBA" and season >= 1984 and rnd <= len(MODERN_ROUNDS):
        return MODERN_ROUNDS[rnd - 1]
    if rnd == total and finals_known:
        return "Finals"
    return f"Round {rnd}"
