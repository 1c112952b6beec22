"""Paired bootstrap over game dates: the right unit, the right numbers, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nbamcp.errors import InvalidInput
from nbamcp.ml.paired import compare, losses, paired_bootstrap


def test_the_unit_is_the_date_not_the_game() -> None:
    # Two dates of 200 games: a wins every game of one and loses every game of the other.
    a = np.r_[np.zeros(200), np.ones(200)]
    b = np.r_[np.ones(200), np.zeros(200)]
    dates = ["2020-01-01"] * 200 + ["2020-01-02"] * 200
    diff, lo, hi, n_dates = paired_bootstrap(a, b, dates, replicates=1000, seed=1)
    # Two units: a replicate draws the same date twice half the time, so the interval spans +-1.
    assert (diff, lo, hi, n_dates) == (0.0, -1.0, 1.0, 2)


def test_interval_agrees_with_scipy_on_equal_sized_dates() -> None:
    rng = np.random.default_rng(3)
    n_dates, per = 300, 6
    y = rng.random(n_dates * per) < 0.6
    p_a = np.clip(0.6 + 0.1 * rng.standard_normal(y.size) + 0.05 * y, 0.01, 0.99)
    p_b = np.clip(p_a + 0.05 * rng.standard_normal(y.size), 0.01, 0.99)
    dates = [f"d{i:03d}" for i in range(n_dates) for _ in range(per)]
    d = compare("a", p_a, "b", p_b, y, dates, replicates=4000, seed=0)
    per_date = (losses(p_a, y, "brier") - losses(p_b, y, "brier")).reshape(n_dates, per).mean(axis=1)
    ref = stats.bootstrap((per_date,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    assert d.diff == pytest.approx(per_date.mean(), abs=1e-6)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert d.lo == pytest.approx(ref.confidence_interval.low, abs=0.1 * width)
    assert d.hi == pytest.approx(ref.confidence_interval.high, abs=0.1 * width)
    assert compare("a", p_a, "b", p_b, y, dates, replicates=4000, seed=0) == d  # seeded
    assert compare("a", p_a, "b", p_b, y, dates, replicates=4000, seed=1) != d


def test_missing_forecasts_drop_the_game_and_bad_input_is_refused() -> None:
    y = np.array([1, 0, 1, 1])
    p = np.array([0.7, 0.4, 0.6, 0.5])
    q = np.array([0.6, np.nan, 0.5, 0.5])
    d = compare("p", p, "q", q, y, ["a", "a", "b", "c"], metric="log_loss", replicates=200)
    assert (d.n_games, d.n_dates, d.metric) == (3, 3, "log_loss")
    with pytest.raises(InvalidInput, match="no game in common"):
        compare("p", p, "q", np.full(4, np.nan), y, ["a"] * 4)
    with pytest.raises(InvalidInput, match="equal lengths"):
        paired_bootstrap(p, q[:2], ["a"] * 4)
    with pytest.raises(InvalidInput, match="replicates"):
        paired_bootstrap(p, p, ["a"] * 4, replicates=10)
    with pytest.raises(InvalidInput, match="unknown metric"):
        losses(p, y, "accuracy")
