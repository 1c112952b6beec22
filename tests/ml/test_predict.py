"""Live prediction: same numbers as the training path, batches equal singles, version checks."""

from __future__ import annotations

import numpy as np
import pytest

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput, NotFound
from nbamcp.ml.features import build_training_matrix
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.predict import GamePredictor, GameQuery
from nbamcp.ml.train import TrainResult


def test_live_prediction_matches_the_pipeline(small_result: TrainResult, recent_games: list[GameRow]) -> None:
    games = [g for g in recent_games if g.season <= 2016]
    X, _, _ = build_training_matrix(games)
    day = "2016-01-15"
    idx = [i for i, g in enumerate(games) if g.date == day]
    predictor = GamePredictor(OnnxModel.from_bytes(small_result.onnx_bytes), feature_set_version="fs1")
    predictor.observe_all(g for g in games if g.date < day)
    queries = [GameQuery(games[i].home, games[i].away, day, games[i].neutral) for i in idx]
    batch = predictor.predict_batch(queries)
    expected = small_result.pipeline.predict_proba(X[idx])[:, 1]
    np.testing.assert_allclose(batch, expected, atol=1e-5)
    assert predictor.predict(queries[0]) == pytest.approx(float(batch[0]), abs=1e-7)
    assert predictor.predict_batch([]).shape == (0,)
    with pytest.raises(NotFound, match="unknown home team"):
        predictor.predict(GameQuery("NOPE", "BOS", day))


def test_model_of_another_feature_set_is_refused(small_result: TrainResult) -> None:
    model = OnnxModel.from_bytes(small_result.onnx_bytes)
    with pytest.raises(InvalidInput, match="feature set 'fs0'"):
        GamePredictor(model, feature_set_version="fs0")
    predictor = GamePredictor(model, feature_set_version="fs1")
    with pytest.raises(InvalidInput, match="retrain"):
        predictor.swap_model(model, feature_set_version="fs2")
