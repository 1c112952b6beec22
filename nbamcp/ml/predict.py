"""Live game prediction: a ``FeatureState`` kept current with results plus one ONNX model.

What the inference worker holds. ``observe`` feeds each new result (in date
order), ``predict_batch`` turns a micro-batch of requests into one
onnxruntime call, and ``swap_model`` replaces the model (champion changed)
without losing the state. A model is only accepted when it was trained on the
feature set this code computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec
import numpy as np

from nbamcp.data.games import GameRow
from nbamcp.errors import InvalidInput
from nbamcp.ml.features import FEATURE_NAMES, FEATURE_SET_VERSION, FeatureState
from nbamcp.ml.onnx_runtime import OnnxModel


class GameQuery(msgspec.Struct, frozen=True):
    """A game to predict (not played yet); ``date`` is 'YYYY-MM-DD'."""

    home: str
    away: str
    date: str
    neutral: bool = False
    playoff: bool = False
    playin: bool = False


def _check_feature_set(version: str) -> None:
    if version != FEATURE_SET_VERSION:
        raise InvalidInput(
            f"model was trained on feature set {version!r} but this code computes {FEATURE_SET_VERSION!r}; "
            "retrain the model or run the matching code version"
        )


class GamePredictor:
    """P(home win) for upcoming games from results seen so far."""

    def __init__(
        self, model: OnnxModel, *, feature_set_version: str, state: FeatureState | None = None
    ) -> None:
        _check_feature_set(feature_set_version)
        if model.n_features not in (None, len(FEATURE_NAMES)):
            raise InvalidInput(
                f"model takes {model.n_features} features, this code computes {len(FEATURE_NAMES)}"
            )
        self.model = model
        self.state = state if state is not None else FeatureState()

    def swap_model(self, model: OnnxModel, *, feature_set_version: str) -> None:
        _check_feature_set(feature_set_version)
        self.model = model

    def observe(self, game: GameRow) -> None:
        """Feed one played game (results must arrive in date order)."""
        self.state.consume(game)

    def observe_all(self, games: Iterable[GameRow]) -> None:
        self.state.consume_all(games)

    def features(self, q: GameQuery) -> np.ndarray:
        return self.state.features_for(q.home, q.away, q.date, q.neutral, q.playoff, playin=q.playin)

    def predict(self, q: GameQuery) -> float:
        return float(self.model.predict_proba(self.features(q).reshape(1, -1))[0])

    def predict_batch(self, queries: Sequence[GameQuery]) -> np.ndarray:
        """One onnxruntime call for many games; raises on the first invalid query."""
        if not queries:
            return np.zeros(0, dtype=np.float32)
        X = np.vstack([self.features(q) for q in queries])
        return self.model.predict_proba(X)
