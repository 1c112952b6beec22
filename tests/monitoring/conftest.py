"""Real seasons as the feature rows the serving path computes (the training matrix is the same code),
a reference sample drawn from them as the trainer draws it, and 538-style Elo probabilities as a
real forecaster (no model to train)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nbamcp.ml.features import build_training_matrix, feature_names
from nbamcp.ml.reference import reference_sample
from tests.ml.csv_games import load_csv_games

REFERENCE_SEASONS = range(2001, 2022)  # what the reference model was "fitted" on
NAMES = feature_names("fs1")


def elo_prob(X: np.ndarray) -> np.ndarray:
    """P(home win) from the Elo difference (home court included): a real, untrained forecaster."""
    return 1.0 / (1.0 + 10.0 ** (-X[:, NAMES.index("elo_diff")] / 400.0))


@dataclass(frozen=True)
class Seasons:
    X: np.ndarray  # float64 feature rows, date order
    y: np.ndarray
    season: np.ndarray
    dates: np.ndarray
    sample_rows: np.ndarray  # indices of the reference sample in X
    ref_X: np.ndarray
    ref_p: np.ndarray

    def rows(self, season: int, *, outside_sample: bool = True) -> np.ndarray:
        r = np.flatnonzero(self.season == season)
        return np.setdiff1d(r, self.sample_rows) if outside_sample else r


@pytest.fixture(scope="session")
def seasons(data_dir: Path) -> Seasons:
    games = [g for g in load_csv_games(data_dir / "games" / "games_538_1947_2023.csv") if g.season >= 1999]
    X, y, meta = build_training_matrix(games)
    X = X.astype(np.float64)
    fit = np.flatnonzero(np.isin(meta.season, list(REFERENCE_SEASONS)))
    sample = reference_sample(X[fit], y[fit], elo_prob, NAMES, feature_set="fs1",
                              seasons=list(REFERENCE_SEASONS), seed=0)  # fmt: skip
    # The same seeded draw, as indices into X (reference_sample keeps the draw's order).
    picked = fit[np.sort(np.random.default_rng(0).choice(fit.size, 3000, replace=False))]
    assert np.allclose(np.nan_to_num(X[picked]), np.nan_to_num(np.asarray(sample.rows)))
    return Seasons(
        X=X, y=y.astype(np.float64), season=meta.season, dates=np.array(meta.date),
        sample_rows=picked, ref_X=np.asarray(sample.rows, dtype=np.float64), ref_p=np.asarray(sample.probs),
    )  # fmt: skip
