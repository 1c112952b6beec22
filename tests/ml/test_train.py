"""Training: determinism, progress and cancellation, bad season ranges."""

from __future__ import annotations

import hashlib

import msgspec
import numpy as np
import pytest

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput
from nbamcp.ml.features import FEATURE_NAMES, FEATURE_SET_VERSION
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.train import SMALL_BUDGET, Budget, TrainingCancelled, TrainResult, train
from tests.ml.conftest import SMALL_TRAIN, SMALL_VALID


def _games(recent_games: list[GameRow], last: int) -> list[GameRow]:
    return [g for g in recent_games if g.season <= last]


def test_result_carries_lineage(small_result: TrainResult) -> None:
    r = small_result
    assert r.model_kind in {"logreg", "hgb", "blend"}
    assert {c.name for c in r.candidates} == {"logreg", "hgb", "blend"}
    assert r.feature_names == FEATURE_NAMES and r.feature_set_version == FEATURE_SET_VERSION
    assert r.params["train_seasons"] == list(SMALL_TRAIN) and r.params["valid_seasons"] == SMALL_VALID
    assert r.params["fit_seasons"] == [*SMALL_TRAIN, *SMALL_VALID]  # refitted through validation
    assert r.metrics["onnx_parity_max_abs_diff"] < 1e-5
    assert 0.18 < r.metrics["valid"]["brier"] < 0.25
    assert set(r.reference["features"]) == set(FEATURE_NAMES)
    assert len(r.data_hash) == 64
    msgspec.json.encode(r.params)
    msgspec.json.encode(r.metrics)


def test_reference_sample_is_seeded_rows_of_the_fit(small_result: TrainResult) -> None:
    """A few thousand fitted rows, drawn with the training seed, with labels and the model's own
    probabilities (what the monitor's two-sample tests compare live traffic with)."""
    s = small_result.sample
    fit = np.nan_to_num(small_result.X_fit.astype(np.float64))
    assert s.population == fit.shape[0] > 3000 and len(s.rows) == len(s.labels) == len(s.probs) == 3000
    assert s.feature_names == FEATURE_NAMES and s.feature_set == "fs1" and s.seed == 0
    assert s.seasons == [*SMALL_TRAIN, *SMALL_VALID]
    idx = np.sort(np.random.default_rng(0).choice(fit.shape[0], 3000, replace=False))
    assert np.array_equal(np.nan_to_num(np.asarray(s.rows)), fit[idx])
    onnx = OnnxModel.from_bytes(small_result.onnx_bytes).predict_proba(np.asarray(s.rows, dtype=np.float32))
    assert np.abs(onnx - np.asarray(s.probs)).max() < 1e-4
    assert 0.5 < np.mean(s.labels) < 0.65  # home teams win a bit under 60%


def test_training_is_deterministic(recent_games: list[GameRow]) -> None:
    games = _games(recent_games, 2012)
    budget = Budget(candidates=("logreg", "hgb"), lr_cs=(1.0,), hgb_grid=SMALL_BUDGET.hgb_grid, cv_folds=1)
    runs = [
        train(games, train_seasons=range(2008, 2012), valid_seasons=[2012], seed=7, budget=budget)
        for _ in range(2)
    ]
    a, b = runs
    assert a.params == b.params
    assert a.metrics == b.metrics
    assert hashlib.sha256(a.onnx_bytes).hexdigest() == hashlib.sha256(b.onnx_bytes).hexdigest()


def test_progress_is_monotonic_and_cancel_stops(recent_games: list[GameRow]) -> None:
    games = _games(recent_games, 2012)
    budget = Budget(candidates=("logreg",), lr_cs=(0.1, 1.0), cv_folds=2)
    seen: list[tuple[float, str]] = []
    train(games, train_seasons=range(2008, 2012), valid_seasons=[2012], budget=budget,
          progress=lambda f, m: seen.append((f, m)))  # fmt: skip
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 5
    calls = 0

    def cancel() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    with pytest.raises(TrainingCancelled, match="cancelled"):
        train(games, train_seasons=range(2008, 2012), valid_seasons=[2012], budget=budget, cancel=cancel)


def test_bad_season_ranges(recent_games: list[GameRow]) -> None:
    games = _games(recent_games, 2012)
    with pytest.raises(InvalidInput, match=r"train_seasons: no games for season\(s\) 1950"):
        train(games, train_seasons=[1950, 2008], valid_seasons=[2012])
    with pytest.raises(InvalidInput, match="valid_seasons: no games for season"):
        train(games, train_seasons=range(2008, 2011), valid_seasons=[2030])
    with pytest.raises(InvalidInput, match="must all come after"):
        train(games, train_seasons=range(2009, 2012), valid_seasons=[2008])
    with pytest.raises(InvalidInput, match="at least two seasons"):
        train(games, train_seasons=[2010], valid_seasons=[2011])
    with pytest.raises(InvalidInput, match="unknown candidates"):
        train(
            games, train_seasons=range(2008, 2011), valid_seasons=[2011], budget=Budget(candidates=("svm",))
        )
    with pytest.raises(InvalidInput, match="no seasons given"):
        train([], train_seasons=[], valid_seasons=[2011])
