"""ONNX export: parity with sklearn, the runtime wrapper, the compact trees, the distilled student."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from nbamcp.errors import InvalidInput
from nbamcp.ml.compress import COMPRESSED_PARITY_TOLERANCE, compression_report, distill_linear
from nbamcp.ml.onnx_compact import compact_trees
from nbamcp.ml.onnx_export import max_abs_diff, to_onnx_bytes
from nbamcp.ml.onnx_runtime import OnnxModel
from nbamcp.ml.train import TrainResult, build_candidate


def test_exported_model_matches_sklearn(small_result: TrainResult) -> None:
    model = OnnxModel.from_bytes(small_result.onnx_bytes)
    X = small_result.X_valid
    assert X.dtype == np.float32 and np.isnan(X).any()  # imputation is inside the graph
    diff = max_abs_diff(small_result.pipeline, model, X)
    assert diff < 1e-5
    p = model.predict_proba(X)
    assert p.shape == (len(X),) and ((p > 0) & (p < 1)).all()
    assert model.predict_proba(X[0]).shape == (1,)  # one row as a vector


@pytest.mark.parametrize("kind", ["logreg", "hgb", "blend"])
def test_every_candidate_family_exports_with_parity(small_result: TrainResult, kind: str) -> None:
    report = next(c for c in small_result.candidates if c.name == kind)
    X = small_result.X_fit
    # Labels do not matter for parity; thirds of the rows stand in for three seasons.
    seasons = np.repeat([1, 2, 3], [len(X) // 3, len(X) // 3, len(X) - 2 * (len(X) // 3)])
    y = (np.random.default_rng(0).random(len(X)) < 0.6).astype(np.int8)
    fitted = build_candidate(kind, report.params, seasons=seasons).fit(X, y)
    data = to_onnx_bytes(fitted, X.shape[1])
    model = OnnxModel.from_bytes(data)
    assert max_abs_diff(fitted, model, small_result.X_valid) < 1e-5
    plain = to_onnx_bytes(fitted, X.shape[1], compact=False)
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    if kind == "logreg":
        assert data == plain  # no trees: nothing to compact
    else:
        assert "TreeEnsemble" in ops and "TreeEnsembleClassifier" not in ops
        assert len(data) < 0.5 * len(plain)
        # The same trees: the same probabilities as the plain export, with and without gaps.
        X_nan = small_result.X_valid.copy()
        X_nan[::3, :4] = np.nan
        for rows in (small_result.X_valid, X_nan):
            np.testing.assert_allclose(
                model.predict_proba(rows), OnnxModel.from_bytes(plain).predict_proba(rows), atol=2e-7
            )


def test_compaction_leaves_what_it_cannot_rewrite_alone(small_result: TrainResult) -> None:
    X = small_result.X_fit
    reg = HistGradientBoostingRegressor(max_iter=5).fit(np.nan_to_num(X), np.arange(len(X)) % 7)
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    data = convert_sklearn(reg, initial_types=[("X", FloatTensorType([None, X.shape[1]]))],
                           target_opset={"": 21, "ai.onnx.ml": 3}).SerializeToString()  # fmt: skip
    assert compact_trees(data) == data  # a regressor's trees: not a binary classifier
    assert compact_trees(to_onnx_bytes(small_result.pipeline, X.shape[1], compact=False)) == (
        small_result.onnx_bytes
    )


def test_wrapper_rejects_bad_input(small_result: TrainResult) -> None:
    model = OnnxModel.from_bytes(small_result.onnx_bytes)
    with pytest.raises(InvalidInput, match="float32"):
        model.predict_proba(small_result.X_valid.astype(np.float64))
    with pytest.raises(InvalidInput, match="shape"):
        model.predict_proba(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(InvalidInput, match="not a loadable ONNX model"):
        OnnxModel.from_bytes(b"not onnx")


def test_compression_report(small_result: TrainResult) -> None:
    r = small_result
    student = distill_linear(r.pipeline, r.X_fit)
    p_t = r.pipeline.predict_proba(r.X_valid)[:, 1]
    p_s = student.predict_proba(r.X_valid)[:, 1]
    assert np.mean(np.abs(p_t - p_s)) < 0.03
    report = compression_report(r.pipeline, r.X_fit, r.X_valid, r.y_valid, repeats=20)
    original, compact, linear = (report[k] for k in ("original", "compact", "distilled_linear"))
    assert original["max_abs_diff_vs_original"] == 0.0
    assert compact["max_abs_diff_vs_original"] < 1e-6 and compact["within_tolerance"]
    assert compact["onnx_bytes"] == len(r.onnx_bytes)
    if r.model_kind != "logreg":
        assert compact["onnx_bytes"] < 0.5 * original["onnx_bytes"]
    assert compact["valid"].brier == pytest.approx(original["valid"].brier, abs=1e-6)
    assert linear["onnx_parity_max_abs_diff"] < COMPRESSED_PARITY_TOLERANCE
    assert linear["onnx_bytes"] <= compact["onnx_bytes"]
    assert abs(linear["valid"].brier - original["valid"].brier) < 0.005
