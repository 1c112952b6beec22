"""From feature rows to GamePredictions and PredictionEvents: one path for model and baseline.

``score_rows`` is what the micro-batcher runs: the champion's probabilities
and explanation effects for a batch (one onnxruntime call each; the challenger
scored on the same rows in shadow mode), or the Elo baseline when no model is
loaded. ``build_prediction`` turns one resolved game and its score into the
reply's GamePrediction; ``prediction_events`` into the log's events.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import msgspec
import numpy as np

from nbamcp.messages import GamePrediction, GameResult, PredictionEvent, ShadowScore
from nbamcp.ml.features import FEATURE_NAMES, FEATURE_SET_OF_WIDTH, FEATURE_SETS
from nbamcp.serving.canonical import CanonicalGame
from nbamcp.serving.explain import BASELINE, top_contributions
from nbamcp.serving.fan_terms import Side, unknown_facts
from nbamcp.serving.keys import prediction_key
from nbamcp.serving.live_features import ResolvedGame
from nbamcp.serving.models import ModelSet, ServingModel
from nbamcp.serving.staleness import Staleness, caveat

BASELINE_NAME = "elo-baseline"
BASELINE_TERMS = ["home_elo", "away_elo", "home_court"]
_I = {n: i for i, n in enumerate(FEATURE_NAMES)}  # fs1's columns: fs2 rows start with them, in order


def row_names(width: int) -> list[str]:
    """The feature names of a row (or logged vector) of ``width`` values."""
    return FEATURE_SETS[FEATURE_SET_OF_WIDTH[width]]


class RowScore(NamedTuple):
    p: float  # P(home win)
    effects: np.ndarray  # per term of ``terms``, toward the home team
    terms: list[str]
    values: np.ndarray  # the terms' values (features, or the baseline's rating terms)
    model: ServingModel | None  # None: the Elo baseline
    challenger: tuple[ServingModel, float] | None  # the shadow-scored model (the champion on a canary row)
    points: np.ndarray  # per term: change in P(home win) from its neutral value (explain.NEUTRAL)
    canary: bool = False  # answered by the challenger (traffic "canary", ``nbamcp.serving.canary``)


def elo_prob(diff: np.ndarray) -> np.ndarray:
    """``nbamcp.ml.ratings.win_prob``, vectorized over rows."""
    return 1.0 / (1.0 + 10.0 ** (-diff.astype(np.float64) / 400.0))


def baseline_scores(X: np.ndarray) -> list[RowScore]:
    diff = X[:, _I["elo_diff"]].astype(np.float64)
    home, away = X[:, _I["home_elo"]].astype(np.float64), X[:, _I["away_elo"]].astype(np.float64)
    terms = np.column_stack([home, -away, diff - (home - away)])
    p = elo_prob(diff)
    values = np.column_stack([home, away, diff - (home - away)])
    # Each term against none of it: an average team, a neutral floor.
    points = p.reshape(-1, 1) - elo_prob(diff.reshape(-1, 1) - terms)
    return [
        RowScore(float(p[i]), terms[i], BASELINE_TERMS, values[i], None, None, points[i])
        for i in range(len(X))
    ]


def score_rows(models: ModelSet, rows: list[np.ndarray], *, shadow: bool) -> list[RowScore]:
    """Score a batch with the champion (challenger beside it when ``shadow``), or the baseline."""
    X = rows[0].reshape(1, -1) if len(rows) == 1 else np.vstack(rows)
    X = X.astype(np.float32, copy=False)
    champion = models.champion
    if champion is None:
        return baseline_scores(X)
    p = champion.onnx.predict_proba(X)
    effects = champion.explainer.effects(X, p)
    points = champion.explainer.points(X, p, effects)
    challenger = models.challenger if shadow else None
    pc = challenger.onnx.predict_proba(X) if challenger is not None else None
    return [
        RowScore(
            float(p[i]),
            effects[i],
            champion.feature_names,
            X[i],
            champion,
            None if challenger is None or pc is None else (challenger, float(pc[i])),
            points[i],
        )
        for i in range(len(X))
    ]


def _features(x: np.ndarray) -> dict[str, float | None]:
    # NaN (no game yet this season) becomes None: JSON has no NaN.
    return {n: (None if v != v else v) for n, v in zip(row_names(len(x)), x.tolist(), strict=True)}


def build_prediction(r: ResolvedGame, s: RowScore, *, top_k: int) -> GamePrediction:
    g = r.game
    p = min(max(s.p, 0.0), 1.0)
    result = None
    if r.played is not None:
        pl = r.played
        result = GameResult(
            game_id=pl.game_id,
            home_pts=pl.home_pts,
            away_pts=pl.away_pts,
            winner=pl.home if pl.home_win else pl.away,
            season_type=pl.season_type,
        )
    model = s.model
    home_wins = p >= 0.5
    home, away = Side(g.home, g.home_name), Side(g.away, g.away_name)
    age = r.age
    names = row_names(len(r.x))
    unknown = [n for n, v in zip(names, r.x.tolist(), strict=True) if v != v] if age.stale else []
    return GamePrediction(
        home=g.home,
        away=g.away,
        home_name=g.home_name,
        away_name=g.away_name,
        date=g.date,
        season=g.season,
        neutral=g.neutral,
        playoff=r.playoff,
        home_win_prob=p,
        away_win_prob=1.0 - p,
        winner=g.home if home_wins else g.away,
        winner_name=g.home_name if home_wins else g.away_name,
        source="model" if model is not None else "baseline",
        model_name=model.name if model is not None else BASELINE_NAME,
        model_version=model.version if model is not None else 0,
        unit=model.explainer.unit if model is not None else "elo",
        explanation=model.explainer.description if model is not None else BASELINE,
        contributions=top_contributions(s.terms, s.values, s.effects, s.points, top_k, home, away),
        features=_features(r.x),
        result=result,
        challenger=(
            None
            if s.challenger is None
            else ShadowScore(
                model_name=s.challenger[0].name,
                model_version=s.challenger[0].version,
                home_win_prob=s.challenger[1],
            )
        ),
        data_through=age.data_through,
        days_since_data=age.days,
        seasons_since_data=age.seasons,
        stale=age.stale,
        unknown=unknown,
        caveat=_caveat(age, pred_unknown=unknown, x_diff=float(r.x[_I["elo_diff"]]), home=home, away=away),
        roster_note=r.roster_note,
        scheduled_game_id=g.scheduled or None,
    )


def _caveat(age: Staleness, *, pred_unknown: list[str], x_diff: float, home: Side, away: Side) -> str:
    if not age.stale:
        return ""
    return caveat(age, unknown_facts(pred_unknown, home, away), elo_diff=x_diff, home=home.name)


def with_age(pred: GamePrediction, age: Staleness) -> GamePrediction:
    """A cached prediction with its age as of now: other teams' results move the data's end, not
    its features (its key holds its teams' result counts and whether it is stale)."""
    home, away = Side(pred.home, pred.home_name), Side(pred.away, pred.away_name)
    return msgspec.structs.replace(
        pred,
        data_through=age.data_through,
        days_since_data=age.days,
        seasons_since_data=age.seasons,
        stale=age.stale,
        caveat=_caveat(age, pred_unknown=pred.unknown, x_diff=_elo_diff(pred), home=home, away=away),
    )


def _elo_diff(pred: GamePrediction) -> float:
    v = pred.features.get("elo_diff")
    return math.nan if v is None else float(v)


def cache_key_for(
    game: CanonicalGame,
    results: tuple[int, int],
    age: Staleness,
    model: str,
    champion: int,
    challenger: int | None,
    *,
    rosters: str = "",
) -> str:
    """The one cache key of a prediction: the game as ``LiveFeatures.keyed`` gives it (neutral as
    played), the results each team's features saw, whether it is stale, the model versions; no
    feature is computed; ``rosters`` is the roster priors' version (fs2)."""
    return prediction_key(
        model=model,
        champion=champion,
        challenger=challenger,
        home=game.home,
        away=game.away,
        date=game.date,
        neutral=game.neutral,
        home_results=results[0],
        away_results=results[1],
        stale=age.stale,
        rosters=rosters,
    )


def prediction_events(
    request_id: str,
    pred: GamePrediction,
    *,
    latency_ms: float,
    client: str,
    cached: bool = False,
    tenant: str = "",
) -> list[PredictionEvent]:
    """The served prediction's event, plus the challenger's (shadow-scored) when it was scored."""
    served = PredictionEvent(
        request_id=request_id,
        ts=time.time(),
        model_name=pred.model_name,
        model_version=pred.model_version,
        source=pred.source,
        home=pred.home,
        away=pred.away,
        date=pred.date,
        neutral=pred.neutral,
        home_win_prob=pred.home_win_prob,
        feature_set=FEATURE_SET_OF_WIDTH.get(len(pred.features), ""),
        # The prediction's own features (its feature set's order; None was NaN): a cache hit has no row.
        features=[math.nan if v is None else float(v) for v in pred.features.values()],
        latency_ms=round(latency_ms, 3),
        game_id=pred.result.game_id if pred.result is not None else None,
        cached=cached,
        client=client,
        tenant=tenant,
    )
    events = [served]
    if pred.challenger is not None and not cached:
        c = pred.challenger
        # Scored, not served: marked, so the log tells what the caller got from what was compared.
        events.append(
            msgspec.structs.replace(
                served,
                model_name=c.model_name,
                model_version=c.model_version,
                source="model",
                home_win_prob=c.home_win_prob,
                shadow=True,
            )
        )
    return events
