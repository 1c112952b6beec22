"""Walk-forward backtests: metrics re-derived from the predictions, every forecaster on the same games."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput
from nbamcp.ml.backtest import BacktestResult, run_backtest
from nbamcp.ml.backtest_compare import BacktestComparison, format_comparison, run_comparison
from nbamcp.ml.rosters import RosterBook
from nbamcp.ml.train import SMALL_BUDGET


@pytest.fixture(scope="module")
def comparison(recent_games: list[GameRow], roster_book: RosterBook) -> BacktestComparison:
    return run_comparison(recent_games, 2022, 2023, rosters=roster_book, train_from=2016, valid_seasons=1,
                          budget=SMALL_BUDGET, include_predictions=True, replicates=500)  # fmt: skip


@pytest.fixture(scope="module")
def result(comparison: BacktestComparison) -> BacktestResult:
    return comparison.models["team"]


def _check(n: int, brier: float, ll: float, acc: float, p: np.ndarray, y: np.ndarray) -> None:
    assert n == len(p)
    assert brier == pytest.approx(brier_score_loss(y, p), abs=1e-6)
    assert ll == pytest.approx(log_loss(y, p), abs=1e-6)
    assert acc == pytest.approx(accuracy_score(y, p >= 0.5), abs=1e-6)


def test_metrics_match_the_predictions(result: BacktestResult, recent_games: list[GameRow]) -> None:
    preds = result.predictions
    assert preds is not None
    expected = [g.game_id for g in recent_games if g.season in (2022, 2023)]
    assert [p.game_id for p in preds] == expected  # every game, in date order
    p = np.array([x.p_home for x in preds])
    y = np.array([x.home_win for x in preds])
    o = result.overall
    _check(o.n, o.brier, o.log_loss, o.accuracy, p, y)

    elo = np.array([np.nan if x.elo538 is None else x.elo538 for x in preds])
    e = result.baselines.elo538
    assert e is not None
    ok = ~np.isnan(elo)
    _check(e.n, e.brier, e.log_loss, e.accuracy, elo[ok], y[ok])
    _check(e.model.n, e.model.brier, e.model.log_loss, e.model.accuracy, p[ok], y[ok])

    rap = np.array([np.nan if x.raptor538 is None else x.raptor538 for x in preds])
    r = result.baselines.raptor538
    assert r is not None
    ok = ~np.isnan(rap)
    _check(r.n, r.brier, r.log_loss, r.accuracy, rap[ok], y[ok])
    _check(r.model.n, r.model.brier, r.model.log_loss, r.model.accuracy, p[ok], y[ok])

    for s in result.seasons:
        sel = np.array([x.season == s.season for x in preds])
        _check(s.model.n, s.model.brier, s.model.log_loss, s.model.accuracy, p[sel], y[sel])
        assert s.fit_seasons == (2016, s.season - 1)
    assert sum(c.n for c in result.calibration) == o.n
    assert 0.19 < o.brier < 0.24


def test_result_encodes(result: BacktestResult) -> None:
    decoded = msgspec.json.decode(msgspec.json.encode(result))
    assert set(decoded["baselines"]) == {"elo538", "raptor538"}
    assert {"n", "brier", "log_loss", "accuracy"} <= set(decoded["baselines"]["raptor538"])


def test_comparison_scores_every_forecaster_on_the_same_games(comparison: BacktestComparison) -> None:
    roster, team = comparison.models["roster"], comparison.models["team"]
    assert (roster.feature_set_version, team.feature_set_version) == ("fs2", "fs1")
    assert roster.predictions is not None and team.predictions is not None
    assert [p.game_id for p in roster.predictions] == [p.game_id for p in team.predictions]
    assert [p.p_home for p in roster.predictions] != [p.p_home for p in team.predictions]
    (window,) = comparison.windows  # RAPTOR covers all of 2022-2023: one window
    assert window.n == roster.overall.n == 2625
    assert window.scores["roster"] == roster.overall and window.scores["team"] == team.overall
    assert window.scores["raptor538"].brier == team.baselines.raptor538.brier
    y = np.array([p.home_win for p in team.predictions])
    dates = {p.date for p in team.predictions}
    pairs = {(d.a, d.b, d.metric): d for d in window.differences}
    assert len(pairs) == 10  # 5 pairs x (Brier, log loss)
    d = pairs[("roster", "team", "brier")]
    p_r = np.array([p.p_home for p in roster.predictions])
    p_t = np.array([p.p_home for p in team.predictions])
    assert d.diff == pytest.approx(np.mean((p_r - y) ** 2 - (p_t - y) ** 2), abs=1e-6)
    assert d.lo < d.diff < d.hi and d.n_dates == len(dates) and d.n_games == 2625
    assert (d.replicates, d.seed, d.unit) == (500, 0, "game date")
    assert [s.season for s in comparison.seasons] == [2022, 2023]
    assert set(comparison.seasons[0].model_kinds) == {"roster", "team"}
    text = format_comparison(comparison)
    assert "| 2022 | 1310 |" in text and "roster model (fs2) - 538 RAPTOR |" in text
    assert "paired bootstrap over game dates" in text and "FiveThirtyEight" in text
    msgspec.json.decode(msgspec.json.encode(comparison), type=BacktestComparison)


def test_comparison_refuses_what_it_cannot_run(recent_games: list[GameRow]) -> None:
    with pytest.raises(InvalidInput, match="needs player seasons"):
        run_comparison(recent_games, 2022, 2023, rosters=None)
    with pytest.raises(InvalidInput, match="distinct names"):
        run_comparison(recent_games, 2022, 2023, rosters=None, models=["team", "team"])


def test_bad_ranges(recent_games: list[GameRow]) -> None:
    with pytest.raises(InvalidInput, match=r"backtest seasons: no games for season\(s\) 2040"):
        run_backtest(recent_games, 2040, 2041)
    with pytest.raises(InvalidInput, match="after to_season"):
        run_backtest(recent_games, 2023, 2022)
    with pytest.raises(InvalidInput, match="need at least"):
        run_backtest(recent_games, 2003, 2003, train_from=2001)
