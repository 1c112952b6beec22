"""Feature and prediction drift on real seasons: stable windows stay quiet, injected drift is found.

Windows are 100 consecutive games of a real season (a couple of weeks), compared with the
reference sample of 2001-2021 as the trainer draws it. "Stable" windows come from the same
seasons (rows outside the sample): nothing changed, so an alarm is a false alarm. The rates
measured here are the ones docs/monitoring.md quotes (bench/drift.py prints them over more
windows and seasons).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nbamcp.monitoring.drift import (
    DISTANCE,
    P_VALUE,
    choose_test,
    column_drift,
    dataset_drift,
    jensen_shannon,
    psi,
    stage_keys,
    stage_matched,
)
from tests.monitoring.conftest import NAMES, Seasons, elo_prob

W = 100
STABLE_SEASONS = range(2012, 2022)


def windows(s: Seasons, seasons: range, size: int = W) -> list[np.ndarray]:
    out = []
    for season in seasons:
        rows = s.rows(season)
        out += [rows[i : i + size] for i in range(0, rows.size - size + 1, size)]
    return out


def J(name: str) -> int:
    return NAMES.index(name)


def lost_history(C: np.ndarray) -> np.ndarray:
    """The serving state lost every result: ratings at the mean, no form, no season record."""
    C = C.copy()
    C[:, J("elo_diff")] = 100.0  # home court only
    C[:, J("home_elo")] = C[:, J("away_elo")] = 0.0
    for what in ("form_margin", "form_wins", "season_margin", "season_wins"):
        C[:, J(f"home_{what}")] = C[:, J(f"away_{what}")] = np.nan
    return C


def swapped(C: np.ndarray) -> np.ndarray:
    """A feed bug: home and away exchanged."""
    C = C.copy()
    C[:, J("elo_diff")] *= -1
    for what in ("form_margin", "form_wins", "rest", "b2b", "elo", "season_margin", "season_wins"):
        h, a = J(f"home_{what}"), J(f"away_{what}")
        C[:, [h, a]] = C[:, [a, h]]
    return C


def test_the_rule_picks_tests_for_small_windows_and_distances_for_large() -> None:
    assert choose_test("continuous", 999) == "ks"
    assert choose_test("flag", 999) == "chi2"
    assert choose_test("continuous", 1000) == "wasserstein"
    assert choose_test("flag", 1000) == "jensenshannon"


def test_statistics_agree_with_scipy_and_with_their_definitions(seasons: Seasons) -> None:
    ref = seasons.ref_X[:, J("elo_diff")]
    cur = seasons.X[seasons.rows(2015)[:300], J("elo_diff")]
    c = column_drift("elo_diff", ref, cur)
    ks = stats.ks_2samp(ref, cur)
    assert (c.test, c.threshold) == ("ks", P_VALUE)
    assert c.statistic == pytest.approx(ks.statistic, abs=1e-6)
    assert c.p_value == pytest.approx(ks.pvalue, rel=1e-4)
    assert c.wasserstein_normed == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), abs=1e-6)
    big = column_drift("elo_diff", ref, seasons.X[seasons.rows(2015), J("elo_diff")])
    assert (big.test, big.threshold, big.p_value) == ("wasserstein", DISTANCE, None)
    same = np.array([0.2, 0.3, 0.5])
    assert psi(same, same) == 0.0 and jensen_shannon(same, same) == 0.0
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    # A flag: chi-square on the 2 x 2 table of reference and current counts.
    flag = column_drift(
        "away_b2b", seasons.ref_X[:, J("away_b2b")], seasons.X[seasons.rows(2015)[:300], J("away_b2b")]
    )
    assert (flag.kind, flag.test) == ("flag", "chi2")


def test_stage_matching_draws_the_windows_stages_in_proportion(seasons: Seasons) -> None:
    early = seasons.X[seasons.rows(2016)[:W]]  # opening weeks: every row in the first decile
    keys = stage_keys(NAMES, seasons.ref_X)
    assert keys is not None
    picked = stage_matched(keys, stage_keys(NAMES, early))  # type: ignore[arg-type]
    assert set(keys[picked].tolist()) == {0}
    assert picked.size == int((keys == 0).sum())


def test_stable_windows_raise_few_alarms(seasons: Seasons) -> None:
    """False-alarm rate of the dataset alarm (share > 0.5) and of prediction drift on stable windows."""
    ws = windows(seasons, STABLE_SEASONS)
    results = [
        dataset_drift(NAMES, seasons.ref_X, seasons.X[w], reference_probs=seasons.ref_p,
                      current_probs=elo_prob(seasons.X[w]))
        for w in ws
    ]  # fmt: skip
    dataset_rate = np.mean([r.drifted for r in results])
    prediction_rate = np.mean([r.prediction is not None and r.prediction.drifted for r in results])
    print(
        f"{len(ws)} stable windows of {W}: alarms {dataset_rate:.1%} (dataset), "
        f"{prediction_rate:.1%} (prediction)"
    )
    assert len(ws) >= 100
    assert dataset_rate <= 0.03
    assert prediction_rate <= 0.12  # p < 0.05 on games that are not independent draws (one season's teams)


def test_injected_drift_is_detected(seasons: Seasons) -> None:
    ws = windows(seasons, range(2017, 2022))
    lost = [dataset_drift(NAMES, seasons.ref_X, lost_history(seasons.X[w])) for w in ws]
    assert all(r.drifted for r in lost), [r.share for r in lost]
    flipped = [
        dataset_drift(NAMES, seasons.ref_X, swapped(seasons.X[w]), reference_probs=seasons.ref_p,
                      current_probs=elo_prob(swapped(seasons.X[w])))
        for w in ws
    ]  # fmt: skip
    found = np.mean([r.prediction is not None and r.prediction.drifted for r in flipped])
    assert found >= 0.95, found
    assert all(next(c for c in r.columns if c.name == "elo_diff").drifted for r in flipped)


def test_missing_values_that_appear_are_drift(seasons: Seasons) -> None:
    w = windows(seasons, range(2019, 2020))[3]
    c = column_drift("home_form_margin", seasons.ref_X[:, J("home_form_margin")],
                     lost_history(seasons.X[w])[:, J("home_form_margin")])  # fmt: skip
    assert c.drifted and c.current.missing == 1.0 and "missing share" in c.note
