"""ONNX export: parity with sklearn, the runtime wrapper, the distilled student."""

from __future__ import annotations

import numpy as np
import pytest

from nbamcp.errors import InvalidInput
from nbamcp.ml.compress import COMPRESSED_PARITY_TOLERANCE, compression_report, distill_linear
from nbamcp.ml.onnx_export import OnnxModel, max_abs_diff, to_onnx_bytes
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
    model = OnnxModel.from_bytes(to_onnx_bytes(fitted, X.shape[1]))
    assert max_abs_diff(fitted, model, small_result.X_valid) < 1e-5


def test_wrapper_rejects_bad_input(small_result: TrainResult) -> None:
    model = OnnxModel.from_bytes(small_result.onnx_bytes)
    with pytest.raises(InvalidInput, match="float32"):
        model.predict_proba(small_result.X_valid.astype(np.float64))
    with pytest.raises(InvalidInput, match="shape"):
        model.predict_proba(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(InvalidInput, match="not a loadable ONNX model"):
        OnnxModel.from_bytes(b"not onnx")


def test_distilled_student_is_small_and_close(small_result: TrainResult) -> None:
    r = small_result
    student = distill_linear(r.pipeline, r.X_fit)
    p_t = r.pipeline.predict_proba(r.X_valid)[:, 1]
    p_s = student.predict_proba(r.X_valid)[:, 1]
    assert np.mean(np.abs(p_t - p_s)) < 0.03
    report = compression_report(r.pipeline, r.X_fit, r.X_valid, r.y_valid)
    assert report["student"]["onnx_parity_max_abs_diff"] < COMPRESSED_PARITY_TOLERANCE
    assert report["student"]["onnx_bytes"] <= report["teacher"]["onnx_bytes"]
    assert abs(report["student"]["valid"].brier - report["teacher"]["valid"].brier) < 0.005
