"""Loader for FiveThirtyEight's nba-elo games file (one row per game, team1 = home).

``playoff=1`` covers the play-in from 2021 on: those rows get ``playin=1`` from the
known play-in windows. ``elo_prob1`` / ``raptor_prob1`` are stored as baselines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from nbamcp.data.franchises import code_to_franchise
from nbamcp.data.ingest.checks import (
    Checks,
    Row,
    RowError,
    flag01,
    in_range,
    iso_date,
    opt_float,
    req_int,
    season_matches_date,
    text,
)
from nbamcp.data.ingest.games_common import (
    GameCandidate,
    check_game,
    flag_code_eras,
    flag_team_twice,
    number_games,
)
from nbamcp.data.migrations import PLAYIN_WINDOWS

SOURCE = "538"
REQUIRED = frozenset({"date", "season", "neutral", "playoff", "team1", "team2", "score1", "score2"})


def team(row: Row, col: str, codes: dict[str, str]) -> tuple[str, str]:
    code = text(row, col).upper()
    fid = codes.get(code)
    if fid is None:
        raise RowError("integrity", "unknown_team_code", f"{col}={code!r} is not a known team code")
    return fid, code


def _parse(row_no: int, row: Row, codes: dict[str, str], today: dt.date) -> GameCandidate:
    date = iso_date(row, "date")
    season = req_int(row, "season")
    season_matches_date(season, date)
    playoff = flag01(row, "playoff")
    neutral = flag01(row, "neutral")
    home, home_code = team(row, "team1", codes)
    away, away_code = team(row, "team2", codes)
    elo = opt_float(row, "elo_prob1")
    raptor = opt_float(row, "raptor_prob1")
    in_range(elo, 0.0, 1.0, "elo_prob1", rule="probability_range")
    in_range(raptor, 0.0, 1.0, "raptor_prob1", rule="probability_range")
    window = PLAYIN_WINDOWS.get(season)
    playin = int(bool(playoff and window and window[0] <= date <= window[1]))
    g = GameCandidate(
        row_no=row_no,
        raw=row,
        date=date,
        season=season,
        season_type="playoffs" if playoff else "regular",
        playin=playin,
        home=home,
        away=away,
        home_code=home_code,
        away_code=away_code,
        home_pts=req_int(row, "score1"),
        away_pts=req_int(row, "score2"),
        neutral=neutral,
        source=SOURCE,
        elo538_home_prob=elo,
        raptor538_home_prob=raptor,
    )
    check_game(g, today)
    return g


def _fast(row: Row, codes: dict[str, str], today: str) -> GameCandidate:
    """The common case in a few C-level conversions; any doubt raises and ``_parse`` explains."""
    date = dt.date.fromisoformat(row["date"]).isoformat()
    season = int(row["season"])
    year, month = int(date[:4]), int(date[5:7])
    playoff, neutral = row["playoff"], row["neutral"]
    home, away = codes[row["team1"]], codes[row["team2"]]
    s1, s2 = int(row["score1"]), int(row["score2"])
    e, r = row.get("elo_prob1") or "", row.get("raptor_prob1") or ""
    elo, raptor = (float(e) if e else None), (float(r) if r else None)
    ok = (
        ((year == season - 1 and month >= 9) or (year == season and month <= 10))
        and playoff in ("0", "1")
        and neutral in ("0", "1")
        and home != away
        and 0 < s1 < 200
        and 0 < s2 < 200
        and s1 != s2
        and date <= today
        and (elo is None or 0.0 <= elo <= 1.0)
        and (raptor is None or 0.0 <= raptor <= 1.0)
    )
    if not ok:
        raise ValueError
    window = PLAYIN_WINDOWS.get(season)
    return GameCandidate(
        row_no=0, raw=row, date=date, season=season,
        season_type="playoffs" if playoff == "1" else "regular",
        playin=int(playoff == "1" and window is not None and window[0] <= date <= window[1]),
        home=home, away=away, home_code=row["team1"], away_code=row["team2"], home_pts=s1, away_pts=s2,
        neutral=int(neutral), source=SOURCE, elo538_home_prob=elo, raptor538_home_prob=raptor,
    )  # fmt: skip


def load(rows: Iterable[tuple[int, Row]], checks: Checks, today: dt.date) -> list[GameCandidate]:
    codes = code_to_franchise()
    today_iso = today.isoformat()
    games: list[GameCandidate] = []
    no_raptor = 0
    for row_no, row in rows:
        try:
            g = _fast(row, codes, today_iso)
            g.row_no = row_no
        except (ValueError, KeyError, TypeError):
            try:
                g = _parse(row_no, row, codes, today)
            except RowError as err:
                checks.reject(row_no, err, row)
                continue
        no_raptor += g.raptor538_home_prob is None
        games.append(g)
    checks.flag(
        "nulls",
        "raptor_prob_missing",
        "538 fills RAPTOR probabilities from the 2020-21 season on",
        severity="info",
        n=no_raptor,
    )
    games = number_games(games, checks)
    flag_code_eras(games, checks)
    flag_team_twice(games, checks)
    return games
