"""Rules every game source shares: scores, doubleheaders, duplicates, one game per team a day."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from nbamcp.data.franchises import FRANCHISES
from nbamcp.data.ingest.checks import Checks, RowError, not_future

# The five real doubleheaders in the FiveThirtyEight file: (date, home, away) by franchise id.
KNOWN_DOUBLEHEADERS: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("1954-03-08", "ATL", "BLB"),  # Milwaukee Hawks vs Baltimore Bullets
        ("1970-02-08", "CHI", "ATL"),
        ("1976-01-24", "VIR", "BKN"),  # Virginia Squires vs New York Nets (ABA)
        ("1979-03-23", "PHI", "BKN"),  # the replay of the 1978 protested game, then the game
        ("1983-04-13", "SAS", "LAL"),
    }
)

MAX_POINTS = 200


@dataclass(slots=True)
class GameCandidate:
    """A game as one source tells it, before it meets the store."""

    row_no: int
    raw: Mapping[str, str] | list[Mapping[str, str]]
    date: str
    season: int
    season_type: str
    playin: int
    home: str
    away: str
    home_code: str
    away_code: str
    home_pts: int
    away_pts: int
    neutral: int
    source: str
    elo538_home_prob: float | None = None
    raptor538_home_prob: float | None = None
    nba_game_id: str | None = None
    seq: int = 1
    extra_rows: list[int] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.date, self.home, self.away)


def reject_game(checks: Checks, g: GameCandidate, err: RowError) -> None:
    """Quarantine every source row of a game (one for 538, the two team rows for nba_api)."""
    if isinstance(g.raw, list) and g.extra_rows:
        for row_no, raw in zip([g.row_no, *g.extra_rows], g.raw, strict=False):
            checks.reject(row_no, err, raw)
    else:
        checks.reject(g.row_no, err, g.raw)


def check_score(pts: int, col: str) -> None:
    if pts == 0:
        raise RowError("impossible", "zero_score", f"{col}=0: a team cannot score 0 (forfeit or bad row)")
    if not 0 < pts < MAX_POINTS:
        raise RowError("ranges", "score_range", f"{col}={pts} is outside 1..{MAX_POINTS - 1}")


def check_game(g: GameCandidate, today: dt.date) -> None:
    """Row-level facts of a game; raises RowError on the first broken one."""
    if g.home == g.away:
        raise RowError("impossible", "same_team", f"{g.home_code} cannot play itself")
    check_score(g.home_pts, "home points")
    check_score(g.away_pts, "away points")
    if g.home_pts == g.away_pts:
        raise RowError(
            "impossible", "tied_score", f"tied score {g.home_pts}-{g.away_pts}: NBA games never end tied"
        )
    not_future(g.date, today)


def flag_code_eras(games: list[GameCandidate], checks: Checks) -> None:
    """A known code used outside its franchise's era: kept (the franchise is right), flagged."""
    valid: dict[tuple[str, str, int], bool] = {}
    for g in games:
        for fid, code in ((g.home, g.home_code), (g.away, g.away_code)):
            key = (fid, code, g.season)
            ok = valid.get(key)
            if ok is None:
                era = FRANCHISES[fid].era(g.season)
                ok = valid[key] = era is not None and code in era.codes
            if not ok:
                checks.flag("integrity", "code_outside_era", f"row {g.row_no}: {code} in {g.season} ({fid})")


def number_games(games: list[GameCandidate], checks: Checks) -> list[GameCandidate]:
    """Give repeated (date, home, away) a sequence number, or quarantine the repeat.

    Only the known real doubleheaders may repeat a key (twice). Any other repeat is
    a duplicate (same score) or a conflicting duplicate (another score).
    """
    seen: dict[tuple[str, str, str], list[GameCandidate]] = {}
    kept: list[GameCandidate] = []
    for g in games:
        key = (g.date, g.home, g.away)
        prior = seen.get(key)
        if prior is None:
            seen[key] = [g]
            kept.append(g)
            continue
        same = [p for p in prior if (p.home_pts, p.away_pts) == (g.home_pts, g.away_pts)]
        if same:
            err = RowError("duplicates", "duplicate_row", f"repeats row {same[0].row_no} ({g.date} {key})")
        elif key in KNOWN_DOUBLEHEADERS and len(prior) == 1:
            g.seq = 2
            prior.append(g)
            kept.append(g)
            continue
        else:
            err = RowError(
                "duplicates",
                "conflicting_duplicate",
                f"{g.date} {g.home_code} vs {g.away_code} already given by row {prior[0].row_no} "
                f"with score {prior[0].home_pts}-{prior[0].away_pts}; not a known doubleheader",
            )
        reject_game(checks, g, err)
    return kept


def flag_team_twice(games: list[GameCandidate], checks: Checks) -> None:
    """A team in two games on one date (other than a doubleheader): kept, flagged.

    The one case in the 538 file is 2008-03-07 ATL/MIA: the completion of the
    protested 2007-12-19 game, played on the day of a regular ATL and MIA game.
    """
    per_day: Counter[tuple[str, str]] = Counter()
    for g in games:
        if g.seq == 1:  # the second game of a doubleheader is allowed
            per_day[(g.date, g.home)] += 1
            per_day[(g.date, g.away)] += 1
    for (date, team), n in sorted(k_n for k_n in per_day.items() if k_n[1] > 1):
        checks.flag("impossible", "team_twice_on_date", f"{team} plays {n} games on {date}")
