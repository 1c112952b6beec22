"""Explanations: exact logistic effects from the ONNX graph; occlusion for trees."""

from __future__ import annotations

import numpy as np

from nbamcp.bus.base import REQUEST_ID_HEADER, Bus
from nbamcp.messages import GameQuery, PredictReply, PredictRequest, decode, encode
from nbamcp.ml.features import FEATURE_NAMES, build_training_matrix
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.serving.explain import LinearExplainer, OcclusionExplainer, explainer_for, reference_means
from nbamcp.subjects import PREDICT
from tests.serving.conftest import WAIT, Data, Home, Models, make_inference, register, serving


def rows(data: Data) -> np.ndarray:
    recent = [g for g in data.games if g.season >= 2021]
    X, _, _ = build_training_matrix(recent)
    return X[-300:]  # late 2023 season rows, with NaNs early in seasons elsewhere


def test_logistic_effects_add_up_to_the_models_log_odds(models: Models, serving_data: Data) -> None:
    r = models.lr1
    model = OnnxModel.from_bytes(r.onnx_bytes)
    explainer = explainer_for(r.onnx_bytes, model, r.reference, FEATURE_NAMES)
    assert isinstance(explainer, LinearExplainer)
    X = rows(serving_data)
    X[0, 1:5] = np.nan  # a team with no game yet this season: imputed inside the graph
    p = model.predict_proba(X).astype(np.float64)
    logit = explainer.effects(X, p).sum(axis=1) + explainer.intercept
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), p, atol=1e-5)
    # Coefficient x standardized value, against the fitted sklearn pipeline itself.
    lr = r.pipeline.named_steps["model"]
    scaler, clf = lr.named_steps["scale"], lr.named_steps["clf"]
    z = scaler.transform(r.pipeline.named_steps["impute"].transform(X[1:2]))
    np.testing.assert_allclose(
        explainer.effects(X[1:2], p[1:2])[0], z[0] * clf.coef_[0], rtol=1e-4, atol=1e-5
    )


def test_trees_get_occlusion_effects(models: Models, serving_data: Data) -> None:
    r = models.hgb
    model = OnnxModel.from_bytes(r.onnx_bytes)
    explainer = explainer_for(r.onnx_bytes, model, r.reference, FEATURE_NAMES)
    assert isinstance(explainer, OcclusionExplainer) and explainer.unit == "probability"
    X = rows(serving_data)[:5]
    p = model.predict_proba(X)
    eff = explainer.effects(X, p)
    j = FEATURE_NAMES.index("elo_diff")
    variant = X.copy()
    variant[:, j] = reference_means(r.reference, FEATURE_NAMES)[j]
    np.testing.assert_allclose(eff[:, j], p - model.predict_proba(variant), atol=1e-6)
    assert np.any(np.abs(eff) > 0)


async def test_worker_explains_a_tree_champion(bus: Bus, home: Home, models: Models) -> None:
    await register(home, models.hgb)
    async with serving(bus, home, await make_inference(bus, home)):
        req = PredictRequest(games=[GameQuery(home="Bucks", away="Hornets", date="2023-04-02")])
        msg = await bus.request(PREDICT, encode(req), timeout=WAIT, headers={REQUEST_ID_HEADER: "t1"})
    (p,) = decode(msg.data, PredictReply).predictions
    assert p.unit == "probability" and "training average" in p.explanation
    assert p.contributions and all(abs(c.effect) <= 1 for c in p.contributions)
    assert abs(p.contributions[0].points) >= abs(p.contributions[-1].points)
