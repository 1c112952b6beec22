"""Anomalies in ingested results, judged BEFORE they reach the games dataset (features, training).

``screen(candidates, history, home_probs, rules)`` returns what is wrong with each new result,
against the accepted history:

- ``score_outlier``: total points or home margin far from its era's: robust z
  ``|x - median| / (1.4826 * MAD)`` above ``score_k``, the median and MAD taken over the
  accepted games of the game's season (earlier seasons added until ``min_reference`` games:
  scoring moved from ~160 to ~230 points a game over the league's history, one scale for all
  eras would be wrong for most of them);
- ``mass_upsets``: too many heavy favourites beaten in a short window. Among the games of a
  window of ``upset_window_days`` days holding a candidate upset (the most improbable such
  window: a week's file counts its later days too) whose favourite had at least
  ``1 - upset_prob`` (by the ratings), ``k`` upsets against an expected ``lam = sum(underdog
  probabilities)``: flagged when ``k >= min_upsets`` and ``P(Poisson(lam) >= k) < upset_alpha``.
  One upset is basketball; ten in a week is a feed that swapped its teams;
- ``team_day``: a team with more than one game on one date (stored and new together);
- ``date_burst``: more games on one date than half the teams the season has seen.

A re-ingested game with another score is judged by the writer that sees both scores
(``rescored``, see ``rescore_reason``). Plain functions over ``GameRow``s: the caller
supplies the pre-game home win probabilities (the project's Elo, not updated with the
candidates themselves: a suspicious result must not move the ratings it is judged by).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from nbamcp.messages.data import GameRow

MAD_SCALE = 1.4826
MIN_SCALE_GAMES = 30  # fewer reference games than this: no robust scale, no score rule


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    """The thresholds (``[anomalies]`` in the configuration)."""

    score_k: float = 7.0
    min_reference: int = 300
    upset_prob: float = 0.2
    upset_window_days: int = 7
    upset_alpha: float = 1e-6
    min_upsets: int = 5
    team_day: bool = True
    date_burst: bool = True


@dataclass(frozen=True, slots=True)
class Finding:
    game_id: str
    rule: str
    reason: str
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scale:
    """Median and robust scale of one quantity over a season's reference games."""

    median: float
    scale: float
    n: int

    def z(self, x: float) -> float:
        return abs(x - self.median) / self.scale if self.scale > 0 else 0.0


def _scale(values: np.ndarray) -> Scale | None:
    if len(values) < MIN_SCALE_GAMES:
        return None
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return Scale(med, max(MAD_SCALE * mad, 1.0), len(values))


class EraScales:
    """Per season, the robust scales of total points and home margin over the accepted games."""

    def __init__(self, history: Iterable[GameRow], min_reference: int) -> None:
        by: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for g in history:
            by[g.season].append((g.home_pts + g.away_pts, g.home_pts - g.away_pts))
        self._by = {s: np.asarray(v, dtype=np.float64) for s, v in by.items()}
        self._seasons = sorted(self._by)
        self.min_reference = min_reference
        self._cache: dict[int, tuple[Scale, Scale] | None] = {}

    def reference(self, season: int) -> np.ndarray:
        """The season's games, then earlier seasons' (latest first) until ``min_reference``."""
        parts, n = [], 0
        for s in sorted((s for s in self._seasons if s <= season), reverse=True):
            parts.append(self._by[s])
            n += len(self._by[s])
            if n >= self.min_reference:
                break
        return np.concatenate(parts) if parts else np.empty((0, 2))

    def scales(self, season: int) -> tuple[Scale, Scale] | None:
        if season not in self._cache:
            ref = self.reference(season)
            total, margin = _scale(ref[:, 0]) if len(ref) else None, _scale(ref[:, 1]) if len(ref) else None
            self._cache[season] = (total, margin) if total and margin else None
        return self._cache[season]


def score_findings(candidates: Sequence[GameRow], scales: EraScales, k: float) -> list[Finding]:
    out = []
    for g in candidates:
        sc = scales.scales(g.season)
        if sc is None:
            continue
        total_s, margin_s = sc
        total, margin = g.home_pts + g.away_pts, g.home_pts - g.away_pts
        zt, zm = total_s.z(total), margin_s.z(margin)
        if max(zt, zm) <= k:
            continue
        what = "total points" if zt >= zm else "margin"
        value, ref = (total, total_s) if zt >= zm else (margin, margin_s)
        out.append(
            Finding(
                g.game_id,
                "score_outlier",
                f"{g.home} {g.home_pts}-{g.away_pts} {g.away}: {what} {value} is {max(zt, zm):.1f} robust "
                f"deviations from season {g.season}'s median {ref.median:.0f} (limit {k:g}, scale "
                f"{ref.scale:.1f} over {ref.n} games)",
                {
                    "total": total,
                    "margin": margin,
                    "z_total": round(zt, 2),
                    "z_margin": round(zm, 2),
                    "median_total": total_s.median,
                    "median_margin": margin_s.median,
                    "limit": k,
                },
            )
        )
    return out


def _day(d: str) -> date:
    return date.fromisoformat(d)


def upset_findings(
    candidates: Sequence[GameRow],
    history: Sequence[GameRow],
    home_probs: Mapping[str, float],
    rules: AnomalyRules,
) -> list[Finding]:
    """Candidate upsets in a window holding improbably many upsets of heavy favourites."""
    # Imported when results are screened, not with the module: scipy.stats is most of the stats
    # worker's import (1-4 s), which every start paid before the first stats answer.
    from scipy import stats

    cand_ids = {g.game_id for g in candidates}
    lopsided: dict[date, list[tuple[str, float, bool]]] = defaultdict(list)  # day -> (id, p_dog, dog won)
    first = min((_day(g.date) for g in candidates), default=None)
    if first is None:
        return []
    since = first - timedelta(days=rules.upset_window_days - 1)
    until = max(_day(g.date) for g in candidates) + timedelta(days=rules.upset_window_days - 1)
    for g in (*history, *candidates):
        p = home_probs.get(g.game_id)
        if p is None or not since <= _day(g.date) <= until:
            continue
        p_dog = min(p, 1.0 - p)
        if p_dog < rules.upset_prob:
            dog_won = g.home_win if p < 0.5 else not g.home_win
            lopsided[_day(g.date)].append((g.game_id, p_dog, dog_won))
    out = []
    w = rules.upset_window_days
    for g in candidates:
        day = _day(g.date)
        mine = [x for x in lopsided.get(day, []) if x[0] == g.game_id]
        if not mine or not mine[0][2]:
            continue  # not a candidate upset of a heavy favourite
        # Every window of w days that holds the game (a week's file holds its later days too):
        # the most improbable one decides.
        best: tuple[float, int, float, int, int] | None = None
        for start in range(w):
            days = [day - timedelta(days=start) + timedelta(days=d) for d in range(w)]
            window = [x for d in days for x in lopsided.get(d, [])]
            k = sum(1 for x in window if x[2])
            lam = sum(x[1] for x in window)
            p_tail = float(stats.poisson.sf(k - 1, lam))
            if best is None or p_tail < best[0]:
                new = sum(1 for x in window if x[2] and x[0] in cand_ids)
                best = (p_tail, k, lam, len(window), new)
        assert best is not None
        p_tail, k, lam, n, new = best
        if k >= rules.min_upsets and p_tail < rules.upset_alpha:
            out.append(
                Finding(
                    g.game_id,
                    "mass_upsets",
                    f"{g.home} {g.home_pts}-{g.away_pts} {g.away} (underdog at {mine[0][1]:.2f}) is one "
                    f"of {k} upsets of heavy favourites in {w} days around {g.date} ({n} such games, "
                    f"{lam:.1f} upsets expected, P = {p_tail:.1g} < {rules.upset_alpha:g}; {new} of them "
                    "just ingested)",
                    {
                        "upsets": k,
                        "expected": round(lam, 3),
                        "p_value": p_tail,
                        "games": n,
                        "p_underdog": round(mine[0][1], 4),
                    },
                )
            )
    return out


def burst_findings(
    candidates: Sequence[GameRow], history: Sequence[GameRow], rules: AnomalyRules
) -> list[Finding]:
    """A team twice on one date; more games on a date than the season's teams can play."""
    days = {g.date for g in candidates}
    seasons = {g.season for g in candidates}
    same_days = [g for g in history if g.date in days]
    per_team: Counter[tuple[str, str]] = Counter()
    per_date: Counter[str] = Counter()
    for g in (*same_days, *candidates):
        per_team[(g.date, g.home)] += 1
        per_team[(g.date, g.away)] += 1
        per_date[g.date] += 1
    teams: dict[int, set[str]] = defaultdict(set)
    for g in (*history, *candidates):
        if g.season in seasons:
            teams[g.season].update((g.home, g.away))
    out = []
    for g in candidates:
        if rules.team_day:
            busy = [t for t in (g.home, g.away) if per_team[(g.date, t)] > 1]
            if busy:
                n = max(per_team[(g.date, t)] for t in busy)
                out.append(
                    Finding(
                        g.game_id,
                        "team_day",
                        f"{', '.join(busy)} would play {n} games on {g.date} "
                        f"({g.home} vs {g.away} one of them)",
                        {"games_that_day": n},
                    )
                )
        if rules.date_burst:
            cap = len(teams[g.season]) // 2
            if cap and per_date[g.date] > cap:
                out.append(
                    Finding(
                        g.game_id,
                        "date_burst",
                        f"{per_date[g.date]} games on {g.date}, more than the season's "
                        f"{len(teams[g.season])} teams can play ({cap})",
                        {"games": per_date[g.date], "cap": cap},
                    )
                )
    return out


def screen(
    candidates: Sequence[GameRow],
    history: Sequence[GameRow],
    home_probs: Mapping[str, float],
    rules: AnomalyRules,
    *,
    scales: EraScales | None = None,
) -> dict[str, list[Finding]]:
    """Game id -> what is wrong with it, for the candidates with a finding (none: all clear).

    ``history`` is the accepted games (the candidates not among them); ``scales`` may be
    passed in when the caller keeps them (the walk-forward bench).
    """
    if not candidates:
        return {}
    scales = scales or EraScales(history, rules.min_reference)
    found: dict[str, list[Finding]] = defaultdict(list)
    for fnd in (
        *score_findings(candidates, scales, rules.score_k),
        *upset_findings(candidates, history, home_probs, rules),
        *burst_findings(candidates, history, rules),
    ):
        found[fnd.game_id].append(fnd)
    return dict(found)


def rescore_reason(game: GameRow, home_pts: int, away_pts: int, source: str) -> Finding:
    """A game already announced, told again with another score: held until an admin says which."""
    return Finding(
        game.game_id,
        "rescored",
        f"{source} says {game.home} {home_pts}-{away_pts} {game.away}; the games dataset has "
        f"{game.home_pts}-{game.away_pts}",
        {
            "home_pts": home_pts,
            "away_pts": away_pts,
            "was_home_pts": game.home_pts,
            "was_away_pts": game.away_pts,
        },
    )
