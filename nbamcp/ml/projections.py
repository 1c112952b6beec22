"""Player projections for a season, from earlier seasons only (Marcel-style).

For season S, a player's rating (box plus/minus, points per 100 possessions
above an average player) is the minutes-weighted average of his S-1, S-2 and
S-3 ratings (weights 1 / 0.6 / 0.3 on minutes), each aged forward to S by an
age curve, plus ``prior_minutes`` of replacement level: the less he played,
the closer to replacement he is projected. His minutes come from a linear model
of earlier seasons' minutes and age. A player with no earlier season gets the
no-history prior: what players without history did in earlier seasons
(minutes-weighted rating, mean minutes).

The age curve, the minutes model and the no-history prior are all fitted on
seasons before S: ``project_season(lines, S)`` reads no line of S or later, so
adding later seasons never changes a projection (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec
import numpy as np

from nbamcp.errors import InvalidInput
from nbamcp.ml.players import SeasonLine

REFERENCE_AGE = 27  # the minutes model's age terms are centered here
MIN_AGE, MAX_AGE = 19, 40  # the age curve is flat outside (few players, noisy deltas)


class ProjectionParams(msgspec.Struct, frozen=True):
    """Projection knobs (defaults from the walk-forward experiments in docs/model.md)."""

    weights: tuple[float, ...] = (1.0, 0.6, 0.3)  # on minutes of seasons S-1, S-2, S-3
    prior_minutes: float = 1000.0  # minutes of replacement level blended into every rating
    replacement: float = -2.0  # rating of a replacement-level player
    raptor_share: float = 0.0  # weight of RAPTOR beside BPM in a season's rating, where it exists
    age_scale: float = 1.0  # share of the fitted age curve applied
    window: int = 10  # earlier seasons the minutes model and the no-history prior are fitted on
    team_minutes: float = 82 * 240.0  # a team's minutes in an 82-game season

    def check(self) -> ProjectionParams:
        if not self.weights or any(w < 0 for w in self.weights):
            raise InvalidInput(f"projection weights must be non-negative and not empty, got {self.weights}")
        if self.prior_minutes < 0 or not 0.0 <= self.raptor_share <= 1.0 or self.window < 1:
            raise InvalidInput(
                "projection params: prior_minutes >= 0, raptor_share in [0, 1] and window >= 1 are required"
            )
        return self


DEFAULT_PROJECTION = ProjectionParams()


class Projection(msgspec.Struct, frozen=True):
    rating: float  # projected BPM-style rating, points per 100 possessions
    minutes: float  # projected minutes in an 82-game season
    seasons: int  # earlier seasons it is based on (0: the no-history prior)


class SeasonProjections(msgspec.Struct, frozen=True):
    """Every projection for one season, and what it was fitted with."""

    season: int
    players: dict[str, Projection]
    no_history: Projection
    age_curve: tuple[float, ...]  # rating change from age a-1 to a, for a in MIN_AGE..MAX_AGE
    params: ProjectionParams

    def get(self, player_id: str) -> Projection:
        """The player's projection; the no-history prior for a player with no earlier season."""
        return self.players.get(player_id, self.no_history)


Lines = Mapping[int, Mapping[str, SeasonLine]]


def line_rating(line: SeasonLine, raptor_share: float) -> float | None:
    if line.bpm is None:
        return None
    if raptor_share and line.raptor is not None:
        return (1.0 - raptor_share) * line.bpm + raptor_share * line.raptor
    return line.bpm


def minutes_scale(season_lines: Mapping[str, SeasonLine], team_minutes: float) -> float:
    """Factor turning a season's minutes into 82-game minutes (lockouts, 2020, 2021 played fewer)."""
    teams = {ln.first_team for ln in season_lines.values()} | {ln.last_team for ln in season_lines.values()}
    played = sum(ln.minutes for ln in season_lines.values())
    n_teams = len(teams - {None})
    return team_minutes * n_teams / played if played > 0 and n_teams else 1.0


def fit_age_curve(lines: Lines, season: int, raptor_share: float = 0.0) -> tuple[float, ...]:
    """Rating change from age a-1 to a (a = MIN_AGE..MAX_AGE), from pairs of seasons before ``season``.

    Delta method: every player with both seasons t-1 and t (t < ``season``)
    gives his change, weighted by the harmonic mean of his two seasons' minutes;
    a quadratic in age is fitted to the changes. Survivors only (a player who
    declined out of the league gives no pair), the usual bias of the method.
    """
    ages, deltas, weights = [], [], []
    for t in sorted(s for s in lines if s < season):
        prev = lines.get(t - 1)
        if prev is None:
            continue
        for pid, ln in lines[t].items():
            before = prev.get(pid)
            if before is None or ln.age is None or ln.minutes <= 0 or before.minutes <= 0:
                continue
            r1, r0 = line_rating(ln, raptor_share), line_rating(before, raptor_share)
            if r1 is None or r0 is None:
                continue
            ages.append(min(max(ln.age, MIN_AGE), MAX_AGE))
            deltas.append(r1 - r0)
            weights.append(2.0 / (1.0 / ln.minutes + 1.0 / before.minutes))
    grid = np.arange(MIN_AGE, MAX_AGE + 1, dtype=np.float64)
    if len(ages) < 100:
        return tuple(0.0 for _ in grid)
    a = np.asarray(ages, dtype=np.float64) - REFERENCE_AGE
    coef = np.polyfit(a, np.asarray(deltas), 2, w=np.sqrt(np.asarray(weights)))
    return tuple(float(v) for v in np.polyval(coef, grid - REFERENCE_AGE))


def age_change(curve: tuple[float, ...], age_from: int, age_to: int) -> float:
    """Sum of the curve's yearly changes from ``age_from`` to ``age_to``."""
    total = 0.0
    for a in range(age_from + 1, age_to + 1):
        total += curve[min(max(a, MIN_AGE), MAX_AGE) - MIN_AGE]
    return total


def _history(lines: Lines, pid: str, season: int, depth: int) -> list[tuple[int, SeasonLine]]:
    out = []
    for lag in range(1, depth + 1):
        ln = lines.get(season - lag, {}).get(pid)
        if ln is not None:
            out.append((lag, ln))
    return out


def _age_in(history: list[tuple[int, SeasonLine]]) -> int | None:
    for lag, ln in history:
        if ln.age is not None:
            return ln.age + lag
    return None


def _minutes_row(history: list[tuple[int, SeasonLine]], scales: Mapping[int, float], season: int,
                 age: int | None, depth: int) -> list[float]:  # fmt: skip
    mins = [0.0] * depth
    for lag, ln in history:
        mins[lag - 1] = ln.minutes * scales.get(season - lag, 1.0)
    a = 0.0 if age is None else float(min(max(age, MIN_AGE), MAX_AGE) - REFERENCE_AGE)
    return [1.0, *mins, a, a * a]


def project_season(
    lines: Lines, season: int, params: ProjectionParams = DEFAULT_PROJECTION
) -> SeasonProjections:
    """Projections for every player with a line in the ``len(weights)`` seasons before ``season``.

    Reads only lines of seasons before ``season``; raises InvalidInput when there is none.
    """
    params.check()
    earlier = {t: v for t, v in lines.items() if t < season}
    if season - 1 not in earlier:
        raise InvalidInput(f"no player season before {season} to project it from")
    depth = len(params.weights)
    share = params.raptor_share
    scales = {t: minutes_scale(v, params.team_minutes) for t, v in earlier.items()}
    curve = fit_age_curve(earlier, season, share)

    # Minutes model and no-history prior: the last ``window`` seasons that have one before them.
    X, y, new_minutes, new_rating_num, new_rating_den = [], [], [], 0.0, 0.0
    for t in range(season - params.window, season):
        if t not in earlier or t - 1 not in earlier:
            continue
        for pid, ln in earlier[t].items():
            hist = _history(earlier, pid, t, depth)
            m = ln.minutes * scales[t]
            if hist:
                X.append(_minutes_row(hist, scales, t, ln.age, depth))
                y.append(m)
            else:
                new_minutes.append(m)
                r = line_rating(ln, share)
                if r is not None and ln.minutes > 0:
                    new_rating_num += r * ln.minutes
                    new_rating_den += ln.minutes
    coef = np.linalg.lstsq(np.asarray(X), np.asarray(y), rcond=None)[0] if len(X) > 2 * (depth + 3) else None
    no_history = Projection(
        rating=new_rating_num / new_rating_den if new_rating_den > 0 else params.replacement,
        minutes=float(np.mean(new_minutes)) if new_minutes else 0.0,
        seasons=0,
    )

    players: dict[str, Projection] = {}
    known = {pid for lag in range(1, depth + 1) for pid in earlier.get(season - lag, {})}
    for pid in known:
        hist = _history(earlier, pid, season, depth)
        age = _age_in(hist)
        num = den = 0.0
        for lag, ln in hist:
            r = line_rating(ln, share)
            if r is None or ln.minutes <= 0:
                continue
            if age is not None and ln.age is not None:
                r += params.age_scale * age_change(curve, ln.age, age)
            w = params.weights[lag - 1] * ln.minutes
            num += w * r
            den += w
        rating = (num + params.prior_minutes * params.replacement) / (den + params.prior_minutes)
        if coef is not None:
            minutes = float(np.dot(coef, _minutes_row(hist, scales, season, age, depth)))
        else:
            minutes = hist[0][1].minutes * scales.get(season - hist[0][0], 1.0)
        minutes = min(max(minutes, 0.0), 82 * 48.0)
        if not math.isfinite(rating):
            rating = params.replacement
        players[pid] = Projection(rating=rating, minutes=minutes, seasons=len(hist))
    return SeasonProjections(season, players, no_history, curve, params)
