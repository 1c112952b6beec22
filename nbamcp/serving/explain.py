"""Explanations a fan can read: which features moved a prediction, and which way.

Two methods, chosen per model when it is loaded:

- **logistic** (a pipeline ending in a logistic regression): each feature's
  effect is its coefficient times its standardized value, read straight from
  the ONNX graph (imputer fill values, scaler offset/scale, coefficients). The
  effects are in log-odds toward the home team and add up, with the
  intercept, to the model's own logit; a load-time check verifies that.
- **occlusion** (trees, blends, anything else): each feature's effect is the
  change in the home team's win probability when that feature alone is
  replaced by its training average (from the registry's reference
  distributions). One onnxruntime call scores all the variants of a batch.

The Elo baseline explains itself: the two ratings and home court, in Elo points.

Beside its technical ``effect``, every factor is given in a fan's terms
(``points``): how many percentage points of win probability it is worth to
the team it helps, against a neutral reference (evenly matched teams on a
neutral floor, no form either way, no back-to-back: ``NEUTRAL``; the training
average where nothing is neutral, e.g. days of rest). A feature whose value is
unknown is not a factor: the pipeline imputes it, the answer says "unknown".
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import structlog

from nbamcp.messages import Contribution
from nbamcp.ml.onnx_graph import graph_nodes
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.serving.fan_terms import Side, sentence

log = structlog.get_logger(__name__)

LABELS = {
    "elo_diff": "rating gap, home court included",
    "home_form_margin": "{home}: point margin, last 10 games",
    "away_form_margin": "{away}: point margin, last 10 games",
    "home_form_wins": "{home}: win share, last 10 games",
    "away_form_wins": "{away}: win share, last 10 games",
    "home_rest": "{home}: days of rest",
    "away_rest": "{away}: days of rest",
    "home_b2b": "{home}: second night of a back-to-back",
    "away_b2b": "{away}: second night of a back-to-back",
    "season_frac": "how far into the season",
    "playoff": "playoff game",
    "playin": "play-in game",
    "neutral": "neutral court",
    "home_elo": "{home}: rating vs league average",
    "away_elo": "{away}: rating vs league average",
    "home_season_margin": "{home}: point margin this season",
    "away_season_margin": "{away}: point margin this season",
    "home_season_wins": "{home}: win share this season",
    "away_season_wins": "{away}: win share this season",
    "home_court": "home-court advantage",
    "roster_diff": "roster strength gap, projected points per 100 possessions",
    "roster_diff_early": "roster strength gap while the season is young (first 20 games)",
    "roster_diff_playoff": "roster strength gap in the playoffs",
}
LOGISTIC = (
    "logistic model: effect = coefficient x standardized feature value, in log-odds toward the home "
    "team (the effects plus the intercept give the model's log-odds)"
)
OCCLUSION = (
    "effect = change in the home team's win probability when the feature alone is set to its "
    "training average (positive: the feature helps the home team)"
)
BASELINE = (
    "Elo baseline: win probability from the rating gap; effects are each team's rating above the "
    "league average and home court, in Elo points toward the home team"
)
_LINEAR_TOLERANCE = 1e-4
# What "no edge for either side" is for each feature; missing here: the training average.
NEUTRAL: dict[str, float] = {
    "elo_diff": 0.0,
    "home_form_margin": 0.0,
    "away_form_margin": 0.0,
    "home_form_wins": 0.5,
    "away_form_wins": 0.5,
    "home_b2b": 0.0,
    "away_b2b": 0.0,
    "playoff": 0.0,
    "playin": 0.0,
    "neutral": 0.0,
    "home_elo": 0.0,
    "away_elo": 0.0,
    "home_season_margin": 0.0,
    "away_season_margin": 0.0,
    "home_season_wins": 0.5,
    "away_season_wins": 0.5,
    "roster_diff": 0.0,
    "roster_diff_early": 0.0,
    "roster_diff_playoff": 0.0,
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class Explainer(Protocol):
    method: str
    unit: str
    description: str

    def effects(self, X: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Per-row, per-feature effects [n, n_features], signed toward the home team."""
        ...

    def points(self, X: np.ndarray, p: np.ndarray, effects: np.ndarray) -> np.ndarray:
        """Per-row, per-feature change in P(home win) from the feature's neutral value to its own
        (probability, signed toward the home team; 0 where the value is unknown); ``effects`` are
        this explainer's for the same rows."""
        ...


class LinearExplainer:
    method = "logistic"
    unit = "log-odds"
    description = LOGISTIC

    def __init__(self, fill: np.ndarray, offset: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: float) -> None:  # fmt: skip
        self.fill, self.offset, self.scale, self.coef = fill, offset, scale, coef
        self.intercept = intercept
        self.neutral = offset  # the neutral reference: explainer_for sets it (set_neutral)
        self._neutral_effect = np.zeros_like(offset)

    def set_neutral(self, neutral: np.ndarray) -> None:
        self.neutral = neutral
        self._neutral_effect = (neutral - self.offset) * self.scale * self.coef

    def effects(self, X: np.ndarray, p: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(X), self.fill, X)
        return (filled - self.offset) * self.scale * self.coef

    def points(self, X: np.ndarray, p: np.ndarray, effects: np.ndarray) -> np.ndarray:
        # Moving one feature from its neutral value to its own adds (effect - neutral effect) to
        # the log-odds; an unknown value is imputed, not a factor.
        logit = effects.sum(axis=1, keepdims=True) + self.intercept
        moved = effects - self._neutral_effect
        return np.where(np.isnan(X), 0.0, _sigmoid(logit) - _sigmoid(logit - moved))

    @classmethod
    def from_onnx(cls, data: bytes, n_features: int) -> LinearExplainer | None:
        """Read imputer -> scaler -> logistic regression parameters; None for any other graph."""
        # Read from the bytes without the onnx package (nbamcp.ml.onnx_graph: its import is seconds).
        nodes = graph_nodes(data)
        ops = [n.op_type for n in nodes]
        if ops not in (["Imputer", "Scaler", "LinearClassifier"], ["Scaler", "LinearClassifier"]):
            return None
        attrs: dict[str, dict[str, Any]] = {n.op_type: n.attributes for n in nodes}
        lin = attrs["LinearClassifier"]
        if lin.get("post_transform") != b"LOGISTIC":
            return None
        coef = np.asarray(lin["coefficients"], dtype=np.float64)
        intercepts = np.asarray(lin["intercepts"], dtype=np.float64)
        if coef.size == 2 * n_features:  # one row per class: class 1 is the home win
            coef, intercept = coef[n_features:], float(intercepts[-1])
        elif coef.size == n_features:
            intercept = float(intercepts[0])
        else:
            return None
        fill = np.asarray(
            attrs.get("Imputer", {}).get("imputed_value_floats", [0.0] * n_features), np.float64
        )
        sc = attrs["Scaler"]
        offset = np.asarray(sc["offset"], dtype=np.float64)
        scale = np.asarray(sc["scale"], dtype=np.float64)
        if not (fill.size == offset.size == scale.size == n_features):
            return None
        return cls(fill, offset, scale, coef, intercept)

    def logits(self, X: np.ndarray) -> np.ndarray:
        return self.effects(X, np.empty(0)).sum(axis=1) + self.intercept


class OcclusionExplainer:
    method = "occlusion"
    unit = "probability"
    description = OCCLUSION

    def __init__(self, model: OnnxModel, reference: np.ndarray, neutral: np.ndarray | None = None) -> None:
        self.model = model
        self.reference = reference.astype(np.float32)
        self.neutral = self.reference if neutral is None else neutral.astype(np.float32)

    def _occluded(self, X: np.ndarray, p: np.ndarray, reference: np.ndarray) -> np.ndarray:
        n, f = X.shape
        variants = np.repeat(X, f, axis=0)
        cols = np.tile(np.arange(f), n)
        variants[np.arange(n * f), cols] = reference[cols]
        q = self.model.predict_proba(variants).reshape(n, f)
        return p.reshape(n, 1) - q

    def effects(self, X: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self._occluded(X, p, self.reference)

    def points(self, X: np.ndarray, p: np.ndarray, effects: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), 0.0, self._occluded(X, p, self.neutral))


def reference_means(reference: dict[str, Any], names: list[str]) -> np.ndarray:
    feats = reference.get("features", {})
    return np.array([feats.get(n, {}).get("mean", math.nan) for n in names], dtype=np.float32)


def neutral_reference(reference: dict[str, Any], names: list[str]) -> np.ndarray:
    """``NEUTRAL`` for each feature, the training average for the others."""
    means = reference_means(reference, names)
    return np.array([NEUTRAL.get(n, float(m)) for n, m in zip(names, means, strict=True)], np.float64)


def explainer_for(data: bytes, model: OnnxModel, reference: dict[str, Any], names: list[str]) -> Explainer:
    """The logistic explainer when the graph is a logistic regression it reproduces, else occlusion."""
    means = reference_means(reference, names)
    neutral = neutral_reference(reference, names)
    linear = LinearExplainer.from_onnx(data, len(names))
    if linear is not None:
        # A feature with no neutral value and no training average is measured from the scaler's centre.
        linear.set_neutral(np.where(np.isnan(neutral), linear.offset, neutral))
        rng = np.random.default_rng(0)
        probe = np.vstack([np.nan_to_num(means), rng.normal(0.0, 1.0, (8, len(names)))]).astype(np.float32)
        probe[1, :3] = np.nan  # the imputer's part, too
        p = model.predict_proba(probe).astype(np.float64)
        mine = 1.0 / (1.0 + np.exp(-linear.logits(probe)))
        if float(np.max(np.abs(mine - p))) < _LINEAR_TOLERANCE:
            return linear
        log.warning("explain.linear_mismatch", max_diff=float(np.max(np.abs(mine - p))))
    return OcclusionExplainer(model, means, np.where(np.isnan(neutral), means, neutral))


def top_contributions(
    names: list[str],
    x: np.ndarray,
    effects: np.ndarray,
    points: np.ndarray,
    k: int,
    home: Side,
    away: Side,
) -> list[Contribution]:
    """The ``k`` factors worth the most percentage points (by size), in a fan's terms; a feature
    whose value is unknown is none of them (the answer lists it as unknown)."""
    # Plain lists: for one game's 19 values, cheaper than numpy's per-call overhead.
    values, sizes, pts = x.tolist(), effects.tolist(), points.tolist()
    ranked = sorted(range(len(names)), key=lambda j: -abs(pts[j]) if pts[j] == pts[j] else 0.0)
    out: list[Contribution] = []
    for j in ranked:
        if len(out) == k:
            break
        v, e, worth = values[j] if j < len(values) else math.nan, sizes[j], pts[j] * 100.0
        # At its neutral value a feature is worth nothing to either side: not a factor; nor is an
        # unknown value (the answer lists it as unknown).
        if v != v or not (math.isfinite(e) and math.isfinite(worth)) or abs(worth) < 0.01:
            continue
        name = names[j]
        out.append(
            Contribution(
                feature=name,
                label=LABELS.get(name, name).format(home=home.name, away=away.name),
                value=v,
                effect=e,
                points=round(worth, 2),
                favours=(home if worth > 0 else away).id,
                sentence=sentence(name, v, home, away),
            )
        )
    return out
