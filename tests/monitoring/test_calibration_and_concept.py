"""Calibration, expected Brier and Page-Hinkley on real seasons (538-style Elo probabilities), and
the operations spike detector on a real latency series' shape."""

from __future__ import annotations

import numpy as np
import pytest

from nbamcp.monitoring.calibration import expected_brier, reliability
from nbamcp.monitoring.pagehinkley import PageHinkley
from nbamcp.monitoring.spikes import SpikeDetector
from tests.monitoring.conftest import Seasons, elo_prob


def test_reliability_table_and_ece_by_hand(seasons: Seasons) -> None:
    rows = seasons.rows(2019, outside_sample=False)
    p, y = elo_prob(seasons.X[rows]), seasons.y[rows]
    r = reliability(p, y)
    assert r.n == rows.size and sum(b.n for b in r.bins) == rows.size
    ece = 0.0
    for b in r.bins:
        inside = (p >= b.lo) & ((p < b.hi) if b.hi < 1 else (p <= 1))
        assert b.n == int(inside.sum())
        if b.n:
            assert b.mean_predicted == pytest.approx(p[inside].mean(), abs=1e-6)
            assert b.observed == pytest.approx(y[inside].mean(), abs=1e-6)
            ece += b.n / p.size * abs(y[inside].mean() - p[inside].mean())
    assert r.ece == pytest.approx(ece, abs=1e-6)
    assert r.brier == pytest.approx(np.mean((p - y) ** 2), abs=1e-6)
    assert r.expected_brier == pytest.approx(np.mean(p * (1 - p)), abs=1e-6)
    # A decent forecaster: realized Brier near what its probabilities promise, ECE a few points.
    assert abs(r.brier - r.expected_brier) < 0.02 and r.ece < 0.06


def test_overconfidence_shows_as_realized_above_expected(seasons: Seasons) -> None:
    rows = seasons.rows(2019, outside_sample=False)
    p, y = elo_prob(seasons.X[rows]), seasons.y[rows]
    sharp = np.clip(0.5 + 2.0 * (p - 0.5), 0.01, 0.99)  # twice as far from a coin flip as it should be
    r = reliability(sharp, y)
    assert r.brier > expected_brier(sharp) + 0.03
    assert r.ece > reliability(p, y).ece + 0.05


def test_page_hinkley_quiet_on_real_seasons_and_finds_a_degradation(seasons: Seasons) -> None:
    """Per-game Brier of the Elo forecaster through whole real seasons: no detection; then from game
    400 on a third of the predictions turned around (a broken model): detected, within ~2 weeks."""
    false_alarms, delays = 0, []
    for season in range(2012, 2022):
        rows = seasons.rows(season, outside_sample=False)
        p, y = elo_prob(seasons.X[rows]), seasons.y[rows]
        ph = PageHinkley()
        for v in (p - y) ** 2:
            ph.update(float(v))
        false_alarms += len(ph.detections)
        flip = np.random.default_rng(season).random(p.size) < 0.3
        flip[:400] = False
        broken = np.where(flip, 1 - p, p)
        ph = PageHinkley()
        found = [i for i, v in enumerate((broken - y) ** 2) if ph.update(float(v)) and i >= 400]
        if found:
            delays.append(found[0] - 400)
    assert false_alarms == 0
    assert len(delays) >= 9 and float(np.median(delays)) < 250, delays


def test_spike_detector_alarms_on_a_spike_not_on_noise() -> None:
    rng = np.random.default_rng(0)
    d = SpikeDetector(floor=2.0)
    quiet = 5.0 + rng.normal(0, 0.3, 200)  # ms: a worker's usual latency
    assert [d.observe(float(v)) for v in quiet].count(None) == 200
    spike = d.observe(40.0)
    assert spike is not None and spike.value == 40.0 and spike.median == pytest.approx(5.0, abs=0.2)
    assert d.observe(5.1) is None  # back to normal, and the spike did not join the history
    assert max(d.history) < 10
    fresh = SpikeDetector()
    assert all(fresh.observe(v) is None for v in (1.0, 100.0, 1.0))  # too little history to judge
