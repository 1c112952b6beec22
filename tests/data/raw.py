"""Facts computed straight from the raw CSV files with the csv module: what the tests check against."""

from __future__ import annotations

import csv
from collections import Counter
from functools import cache
from pathlib import Path


@cache
def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def games538(data: Path) -> list[dict[str, str]]:
    return rows(data / "games" / "games_538_1947_2023.csv")


def gamelog(data: Path) -> list[dict[str, str]]:
    return rows(data / "gamelogs" / "team_gamelog_2022-23.csv")


def players(data: Path, kind: str, season_type: str) -> list[dict[str, str]]:
    return rows(data / "players" / f"player_{kind}_{season_type}_1990_2024.csv")


def good_538_games(data: Path) -> int:
    """Rows minus the ones our rules must reject: 0 points (the 1972 forfeit) or exact repeats."""
    seen: Counter[tuple[str, ...]] = Counter()
    n = 0
    for r in games538(data):
        key = (r["date"], r["team1"], r["team2"], r["score1"], r["score2"])
        seen[key] += 1
        if seen[key] == 1 and int(r["score1"]) > 0 and int(r["score2"]) > 0:
            n += 1
    return n


def team_record(data: Path, codes: set[str], season: int) -> tuple[int, int]:
    """Regular-season W-L of a team (by its 538 codes) in a season, from the 538 file."""
    w = lo = 0
    for r in games538(data):
        if int(r["season"]) != season or r["playoff"] == "1":
            continue
        for mine, other, me in (("score1", "score2", "team1"), ("score2", "score1", "team2")):
            if r[me] in codes:
                if int(r[mine]) > int(r[other]):
                    w += 1
                else:
                    lo += 1
    return w, lo
