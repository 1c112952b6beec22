"""Calibration of probabilities against outcomes, and the performance expected before outcomes.

- ``reliability``: equal-width bins of the predicted probability; per bin the games, the mean
  prediction and the observed rate; the expected calibration error (ECE: the games-weighted
  mean of |observed - predicted| over the bins) and the worst bin's gap (MCE).
- ``expected_brier``: what a calibrated forecaster expects its Brier score to be from its own
  probabilities alone, mean p(1 - p) (the outcome of a game predicted p is Bernoulli(p)); the
  label-free estimate NannyML's CBPE makes, compared with the realized Brier once the results
  are in. A realized Brier well above it means the probabilities are overconfident or the
  world moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 10


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    lo: float
    hi: float
    n: int
    mean_predicted: float | None  # None when the bin is empty
    observed: float | None


@dataclass(frozen=True, slots=True)
class Reliability:
    bins: list[ReliabilityBin]
    n: int
    ece: float
    mce: float
    brier: float  # realized
    expected_brier: float  # mean p(1 - p) of the same predictions
    base_rate: float  # share of home wins


def expected_brier(p: np.ndarray) -> float:
    """The Brier score a calibrated forecaster expects from its probabilities: mean p(1 - p)."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean(p * (1 - p))) if p.size else float("nan")


def reliability(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> Reliability:
    """The reliability table of probabilities ``p`` against 0/1 outcomes ``y``."""
    p = np.asarray(p, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if p.shape != y.shape or not p.size:
        raise ValueError(f"need as many outcomes as predictions, and some: {p.size} vs {y.size}")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out: list[ReliabilityBin] = []
    ece = mce = 0.0
    for b in range(bins):
        mask = idx == b
        n = int(mask.sum())
        if not n:
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, 0, None, None))
            continue
        mp, ob = float(p[mask].mean()), float(y[mask].mean())
        gap = abs(ob - mp)
        ece += n / p.size * gap
        mce = max(mce, gap)
        out.append(ReliabilityBin(b / bins, (b + 1) / bins, n, round(mp, 6), round(ob, 6)))
    return Reliability(
        bins=out,
        n=int(p.size),
        ece=round(ece, 6),
        mce=round(mce, 6),
        brier=round(float(np.mean((p - y) ** 2)), 6),
        expected_brier=round(expected_brier(p), 6),
        base_rate=round(float(y.mean()), 6),
    )
