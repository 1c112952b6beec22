"""Probability scores shared by training, backtests and model cards.

Brier and log loss judge calibrated probabilities (lower is better); accuracy
counts a home pick when P(home win) >= 0.5.
"""

from __future__ import annotations

import msgspec
import numpy as np

from nbamcp.errors import InvalidInput

_EPS = 1e-15


class Scores(msgspec.Struct, frozen=True):
    n: int
    brier: float
    log_loss: float
    accuracy: float


class CalibrationBin(msgspec.Struct, frozen=True):
    """Games whose predicted P(home win) fell in [lo, hi)."""

    lo: float
    hi: float
    n: int
    predicted: float | None  # mean prediction in the bin (None when empty)
    observed: float | None  # home win rate in the bin


def _check(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise InvalidInput(f"{p.size} predictions but {y.size} outcomes")
    if p.size == 0:
        raise InvalidInput("no predictions to score")
    if np.isnan(p).any():
        raise InvalidInput("predictions contain NaN")
    return p, y


def scores(p: np.ndarray, y: np.ndarray) -> Scores:
    """Brier, log loss and accuracy of P(home win) ``p`` against outcomes ``y`` (1 = home won)."""
    p, y = _check(p, y)
    pc = np.clip(p, _EPS, 1 - _EPS)
    return Scores(
        n=int(p.size),
        brier=round(float(np.mean((p - y) ** 2)), 6),
        log_loss=round(float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))), 6),
        accuracy=round(float(np.mean((p >= 0.5) == (y == 1))), 6),
    )


def calibration_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[CalibrationBin]:
    """Equal-width bins over [0, 1]: mean prediction vs observed home win rate."""
    p, y = _check(p, y)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        out.append(
            CalibrationBin(
                lo=b / bins,
                hi=(b + 1) / bins,
                n=n,
                predicted=round(float(p[sel].mean()), 4) if n else None,
                observed=round(float(y[sel].mean()), 4) if n else None,
            )
        )
    return out
