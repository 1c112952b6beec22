"""The promotion gate: does the challenger beat the champion on the same realized games?

The input is, for every game both versions predicted (each one's latest prediction before
the result), the two per-game log losses and the game's date. The question is paired: the
difference ``d = loss_challenger - loss_champion`` per game is what varies.

The decision is the paired bootstrap over game dates of ``nbamcp.ml.paired`` (the same
comparison the backtests use): promote when the one-sided ``1 - alpha`` upper bound of the
mean of ``d`` is below zero, otherwise keep the champion. Why this one:

- the mean log loss is what the models are chosen by; a Wilcoxon signed-rank test asks
  about the median (symmetric) difference instead, and a model can win it while losing on
  the mean (better on most games, badly wrong on a few);
- games on one date share a slate (one day's news, league-wide conditions), so they are not
  independent: resampling whole dates keeps that dependence, a per-game t-test does not;
- no normality is assumed (log-loss differences are skewed by confident misses).

With few dates (200 games are ~25 game dates) the percentile bootstrap is a little too
liberal: on simulated stretches with no true difference, 6.5% false promotions at alpha 0.05
(200 games). So the paired t-test (``scipy.stats.ttest_rel``, one-sided) must agree as well:
promote only when both reject. Requiring both is an intersection-union test, whose
false-promotion rate is at most the smaller of the two (measured 5.5% at 200 games, 4.6% at
400: ``bench/gate_calibration.py``, ``docs/model.md``).

``worse`` is the same test the other way round (the one-sided lower bound above zero and the
t-test's other tail below alpha): the canary watch rolls a challenger back on it.

The test is run ONCE, when ``min_games`` paired games exist: a fixed-sample test keeps its
false-promotion rate at ``alpha``, which looking again after every new result would not.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from nbamcp.errors import InvalidInput
from nbamcp.ml.paired import RESAMPLING_UNIT, paired_bootstrap

_T_MAX = 1e6


class GateOutcome(msgspec.Struct, frozen=True, kw_only=True):
    n_games: int
    n_dates: int
    challenger_log_loss: float
    champion_log_loss: float
    mean_diff: float  # challenger - champion: negative is a win
    upper: float  # one-sided (1 - alpha) upper bound of mean_diff
    lower: float  # one-sided (1 - alpha) lower bound of mean_diff
    alpha: float
    replicates: int
    seed: int
    t_stat: float
    p_value: float  # one-sided paired t-test, H1: the challenger's mean loss is lower
    promote: bool  # upper < 0 and p_value < alpha
    worse: bool  # lower > 0 and the t-test's other tail < alpha: the challenger is significantly worse
    reason: str


def _t_test(d: np.ndarray) -> tuple[float, float]:
    """(t, one-sided p) of the paired t-test that mean(d) < 0; finite even when d is constant."""
    if d.size < 2 or float(np.std(d)) == 0.0:
        mean = float(np.mean(d)) if d.size else 0.0
        # No spread: the sign says it all (t is "infinite"; kept finite for JSON).
        return (0.0, 0.5) if mean == 0.0 else ((-_T_MAX, 0.0) if mean < 0 else (_T_MAX, 1.0))
    from scipy import stats  # the gate runs in the trainer, which has scipy; importing it costs ~0.3 s

    res = stats.ttest_1samp(d, 0.0, alternative="less")  # = ttest_rel(challenger, champion)
    return float(res.statistic), float(res.pvalue)


def decide(
    challenger: Sequence[float] | np.ndarray,
    champion: Sequence[float] | np.ndarray,
    dates: Sequence[str],
    *,
    min_games: int,
    alpha: float = 0.05,
    replicates: int = 2000,
    seed: int = 0,
    names: tuple[str, str] = ("challenger", "champion"),
) -> GateOutcome | None:
    """The gate's decision on paired per-game log losses; None while fewer than ``min_games``."""
    a = np.asarray(challenger, dtype=np.float64)
    b = np.asarray(champion, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(dates) != a.size:
        raise InvalidInput(f"paired losses need equal lengths: {a.size}, {b.size} and {len(dates)} dates")
    if not 0.0 < alpha < 0.25:
        raise InvalidInput(f"alpha must be in (0, 0.25), got {alpha}")
    if min_games < 2:
        raise InvalidInput(f"min_games must be at least 2, got {min_games}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInput("per-game losses must be finite")
    if a.size < min_games:
        return None
    # Two-sided level 1 - 2 alpha: its upper end is the one-sided 1 - alpha bound.
    diff, lower, upper, n_dates = paired_bootstrap(
        a, b, dates, replicates=replicates, seed=seed, level=1 - 2 * alpha
    )
    t_stat, p_value = _t_test(a - b)
    promote = upper < 0.0 and p_value < alpha
    worse = lower > 0.0 and (1.0 - p_value) < alpha
    ch, cp = names
    reason = (
        f"{ch} vs {cp} on {a.size} realized games ({n_dates} dates): log loss {a.mean():.4f} vs "
        f"{b.mean():.4f}, mean difference {diff:+.4f}, one-sided {100 * (1 - alpha):.0f}% upper bound "
        f"{upper:+.4f} (bootstrap over {RESAMPLING_UNIT}s, {replicates} replicates, seed {seed}) "
        f"{'<' if upper < 0 else '>='} 0; paired t {t_stat:.2f}, one-sided p {p_value:.4f} "
        f"{'<' if p_value < alpha else '>='} {alpha:g}: " + ("promote" if promote else f"keep the {cp}")
    )
    return GateOutcome(
        n_games=int(a.size),
        n_dates=n_dates,
        challenger_log_loss=round(float(a.mean()), 6),
        champion_log_loss=round(float(b.mean()), 6),
        mean_diff=round(diff, 6),
        upper=round(upper, 6),
        lower=round(lower, 6),
        alpha=alpha,
        replicates=replicates,
        seed=seed,
        t_stat=round(t_stat, 4),
        p_value=round(p_value, 6),
        promote=promote,
        worse=worse,
        reason=reason,
    )
