"""Loader for the nba_api LeagueGameLog team layout: two team rows per game, joined into one game.

``MATCHUP`` says who is home: "BOS vs. NYK" is BOS at home, "BOS @ NYK" is BOS away.
``SEASON_ID`` is the season-type digit plus the start year (22022 = 2022-23 regular
season; 4 = playoffs, 5 = play-in). Headers are matched case-insensitively: the CSV
in the shared data is lower case, the live JSON upper case.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from nbamcp.data.franchises import code_to_franchise
from nbamcp.data.ingest.checks import (
    Checks,
    Row,
    RowError,
    in_range,
    iso_date,
    opt_float,
    opt_int,
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

SOURCE = "nba_api"
REQUIRED = frozenset({"season_id", "team_abbreviation", "game_id", "game_date", "matchup", "wl", "pts"})
_MATCHUP = re.compile(r"^\s*([A-Z]{2,4})\s+(vs\.?|@)\s+([A-Z]{2,4})\s*$")
# SEASON_ID's first digit.
SEASON_TYPES = {"2": ("regular", 0), "4": ("playoffs", 0), "5": ("playoffs", 1)}
_PAIRS = (("fgm", "fga"), ("fg3m", "fg3a"), ("ftm", "fta"))


def season_of(season_id: str) -> tuple[int, str, int]:
    """'22022' -> (2023, 'regular', 0)."""
    if len(season_id) != 5 or not season_id.isdigit():
        raise RowError("types", "bad_season_id", f"season_id={season_id!r} is not like 22022")
    kind = SEASON_TYPES.get(season_id[0])
    if kind is None:
        raise RowError(
            "integrity",
            "unsupported_season_type",
            f"season_id={season_id}: only regular season (2), playoffs (4) and play-in (5) games are stored",
        )
    return int(season_id[1:]) + 1, kind[0], kind[1]


class TeamRow:
    """One team's line of one game, parsed."""

    __slots__ = (
        "code",
        "date",
        "fid",
        "game_id",
        "home",
        "opp_code",
        "playin",
        "pts",
        "raw",
        "row_no",
        "season",
        "season_type",
        "wl",
    )  # fmt: skip

    def __init__(self, row_no: int, row: Row, codes: dict[str, str]) -> None:
        self.row_no, self.raw = row_no, dict(row)
        self.season, self.season_type, self.playin = season_of(text(row, "season_id"))
        self.game_id = text(row, "game_id")
        self.date = iso_date(row, "game_date")
        season_matches_date(self.season, self.date)
        self.code = text(row, "team_abbreviation").upper()
        fid = codes.get(self.code)
        if fid is None:
            raise RowError("integrity", "unknown_team_code", f"team_abbreviation={self.code!r} is not known")
        self.fid = fid
        m = _MATCHUP.match(text(row, "matchup"))
        if m is None or m.group(1) != self.code:
            raise RowError(
                "integrity",
                "bad_matchup",
                f"matchup={row.get('matchup')!r} is not '{self.code} vs. XXX' or '@'",
            )
        self.home = m.group(2).startswith("vs")
        self.opp_code = m.group(3)
        self.wl = text(row, "wl").upper()
        if self.wl not in ("W", "L"):
            raise RowError("types", "bad_wl", f"wl={self.wl!r} must be W or L")
        self.pts = req_int(row, "pts")
        minutes = opt_int(row, "min")
        # 240 = 5 players x 48; each overtime adds 25.
        in_range(minutes, 240, 400, "min", rule="minutes_range")
        for made_col, att_col in _PAIRS:
            made, att = opt_int(row, made_col), opt_int(row, att_col)
            if made is not None and att is not None and not 0 <= made <= att:
                raise RowError("impossible", "made_gt_attempted", f"{made_col}={made} > {att_col}={att}")
        for col in ("fg_pct", "fg3_pct", "ft_pct"):
            in_range(opt_float(row, col), 0.0, 1.0, col, rule="percentage_range")


def _join(game_id: str, rows: list[TeamRow], checks: Checks, today: dt.date) -> GameCandidate | None:
    # Exact repeats of a team row are duplicates; what is left must be one home and one away row.
    unique: list[TeamRow] = []
    for r in rows:
        twin = next((u for u in unique if u.raw == r.raw), None)
        if twin is not None:
            checks.reject(
                r.row_no, RowError("duplicates", "duplicate_row", f"repeats row {twin.row_no}"), r.raw
            )
        else:
            unique.append(r)
    if len(unique) == 1:
        r = unique[0]
        checks.reject(
            r.row_no,
            RowError(
                "integrity", "lone_row", f"game {game_id} has only one team row ({r.code}); need both teams"
            ),
            r.raw,
        )
        return None
    home = [r for r in unique if r.home]
    away = [r for r in unique if not r.home]
    problem = ""
    if len(unique) != 2 or len(home) != 1 or len(away) != 1:
        problem = f"game {game_id} has {len(home)} home and {len(away)} away rows; need one of each"
    else:
        h, a = home[0], away[0]
        if (h.opp_code, a.opp_code) != (a.code, h.code) or h.date != a.date or h.season_type != a.season_type:
            problem = f"game {game_id}: the two rows disagree on teams, date or season type"
        elif (h.wl == "W") != (h.pts > a.pts) or h.wl == a.wl:
            problem = f"game {game_id}: W/L ({h.wl}/{a.wl}) does not match the score {h.pts}-{a.pts}"
    if problem:
        for r in unique:
            checks.reject(r.row_no, RowError("integrity", "inconsistent_game", problem), r.raw)
        return None
    h, a = home[0], away[0]
    g = GameCandidate(
        row_no=h.row_no,
        raw=[h.raw, a.raw],
        date=h.date,
        season=h.season,
        season_type=h.season_type,
        playin=h.playin,
        home=h.fid,
        away=a.fid,
        home_code=h.code,
        away_code=a.code,
        home_pts=h.pts,
        away_pts=a.pts,
        neutral=0,
        source=SOURCE,
        nba_game_id=game_id,
        extra_rows=[a.row_no],
    )
    try:
        check_game(g, today)
    except RowError as err:
        checks.reject(h.row_no, err, h.raw)
        checks.reject(a.row_no, err, a.raw)
        return None
    return g


def load(rows: Iterable[tuple[int, Row]], checks: Checks, today: dt.date) -> list[GameCandidate]:
    codes = code_to_franchise()
    by_game: dict[str, list[TeamRow]] = {}
    for row_no, row in rows:
        try:
            tr = TeamRow(row_no, row, codes)
        except RowError as err:
            checks.reject(row_no, err, row)
            continue
        by_game.setdefault(tr.game_id, []).append(tr)
    games = []
    for game_id, team_rows in by_game.items():
        g = _join(game_id, team_rows, checks, today)
        if g is not None:
            games.append(g)
    games.sort(key=lambda g: (g.date, g.nba_game_id or ""))
    games = number_games(games, checks)
    flag_code_eras(games, checks)
    flag_team_twice(games, checks)
    return games
