"""Forecasters compared on the same games: scores side by side, paired bootstrap intervals.

Two forecasts of the same games are a paired question: the difference of their
per-game losses is what varies, not each average on its own. Games on the same
date share a slate (league-wide conditions, one day's news), so the resampling
unit is the game date: each bootstrap replicate draws dates with replacement
and takes every game of each drawn date, and the difference of mean losses is
recomputed on that sample. The percentile interval of the replicates is
reported with the seed, the number of replicates and the number of dates.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from nbamcp.errors import InvalidInput

RESAMPLING_UNIT = "game date"
DEFAULT_REPLICATES = 2000
_EPS = 1e-15


class PairedDifference(msgspec.Struct, frozen=True):
    """mean loss of ``a`` minus mean loss of ``b`` on the same games (negative: ``a`` is better)."""

    a: str
    b: str
    metric: str  # 'brier' | 'log_loss'
    n_games: int
    n_dates: int
    a_score: float
    b_score: float
    diff: float
    lo: float  # percentile interval of the bootstrap replicates
    hi: float
    level: float
    replicates: int
    seed: int
    unit: str = RESAMPLING_UNIT


def losses(p: np.ndarray, y: np.ndarray, metric: str) -> np.ndarray:
    """Per-game Brier or log loss of P(home win) ``p`` against outcomes ``y``."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if metric == "brier":
        return (p - y) ** 2
    if metric == "log_loss":
        pc = np.clip(p, _EPS, 1 - _EPS)
        return -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    raise InvalidInput(f"unknown metric {metric!r}; use 'brier' or 'log_loss'")


def paired_bootstrap(
    loss_a: np.ndarray,
    loss_b: np.ndarray,
    dates: Sequence[str],
    *,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float, int]:
    """(mean difference, interval low, interval high, number of dates) of ``loss_a - loss_b``,
    resampling whole game dates."""
    a = np.asarray(loss_a, dtype=np.float64)
    b = np.asarray(loss_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(dates) != a.size:
        raise InvalidInput(f"paired losses need equal lengths: {a.size}, {b.size} and {len(dates)} dates")
    if a.size == 0:
        raise InvalidInput("no games to compare")
    if replicates < 100 or not 0.5 < level < 1.0:
        raise InvalidInput(f"need at least 100 replicates and a level in (0.5, 1), got {replicates}, {level}")
    _, group = np.unique(np.asarray(dates), return_inverse=True)
    n_dates = int(group.max()) + 1
    sums = np.bincount(group, weights=a - b, minlength=n_dates)
    counts = np.bincount(group, minlength=n_dates).astype(np.float64)
    rng = np.random.default_rng(seed)
    est = np.empty(replicates)
    chunk = max(1, 2_000_000 // n_dates)  # bounded memory: replicates drawn in blocks
    for start in range(0, replicates, chunk):
        stop = min(start + chunk, replicates)
        draws = rng.integers(0, n_dates, size=(stop - start, n_dates))
        est[start:stop] = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(est, [tail, 1.0 - tail])
    return float(np.mean(a - b)), float(lo), float(hi), n_dates


def compare(
    name_a: str,
    p_a: np.ndarray,
    name_b: str,
    p_b: np.ndarray,
    y: np.ndarray,
    dates: Sequence[str],
    *,
    metric: str = "brier",
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    """Paired comparison of two forecasts of the same games (rows where either is NaN are dropped)."""
    p_a, p_b = np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = ~(np.isnan(p_a) | np.isnan(p_b))
    if not ok.any():
        raise InvalidInput(f"{name_a} and {name_b} have no game in common")
    d = [dates[i] for i in np.flatnonzero(ok).tolist()]
    la, lb = losses(p_a[ok], y[ok], metric), losses(p_b[ok], y[ok], metric)
    diff, lo, hi, n_dates = paired_bootstrap(la, lb, d, replicates=replicates, seed=seed, level=level)
    return PairedDifference(
        a=name_a,
        b=name_b,
        metric=metric,
        n_games=int(ok.sum()),
        n_dates=n_dates,
        a_score=round(float(la.mean()), 6),
        b_score=round(float(lb.mean()), 6),
        diff=round(diff, 6),
        lo=round(lo, 6),
        hi=round(hi, 6),
        level=level,
        replicates=replicates,
        seed=seed,
    )
