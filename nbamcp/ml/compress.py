"""Model compression, and what each form costs against the original.

Two forms of a trained game model besides skl2onnx's plain export:

- **compact trees** (``nbamcp.ml.onnx_compact``): the same trees re-encoded in
  ai.onnx.ml's opset-5 TreeEnsemble, about a third of the bytes and the same
  probabilities; what ``to_onnx_bytes`` writes by default.
- **distilled linear**: a logistic regression whose logit is fitted by least
  squares to the teacher's logit on the teacher's own training rows (no labels
  needed): ~1 KB, microseconds, but not within 1e-3 of a tree blend.

``compression_report`` measures size, one-row onnxruntime latency, held-out
scores and the distance to the original's probabilities for each.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from nbamcp.ml.metrics import scores
from nbamcp.ml.onnx_export import max_abs_diff, median_latency, to_onnx_bytes
from nbamcp.ml.onnx_runtime import OnnxModel

COMPRESSED_PARITY_TOLERANCE = 1e-3


def distill_linear(teacher: Any, X: np.ndarray) -> Pipeline:
    """A logistic-regression pipeline mimicking ``teacher`` on rows like ``X``."""
    p = np.clip(teacher.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p))
    imputer = SimpleImputer(strategy="median").fit(X)
    scaler = StandardScaler().fit(imputer.transform(X))
    reg = LinearRegression().fit(scaler.transform(imputer.transform(X)), logit)
    # A LogisticRegression carrying the regression's weights: sklearn and skl2onnx both
    # only read coef_, intercept_ and classes_ to predict.
    clf = LogisticRegression()
    clf.coef_ = reg.coef_.reshape(1, -1).astype(np.float64)
    clf.intercept_ = np.array([reg.intercept_], dtype=np.float64)
    clf.classes_ = np.array([0, 1])
    clf.n_features_in_ = X.shape[1]
    return Pipeline([("impute", imputer), ("scale", scaler), ("clf", clf)])


def compression_report(
    teacher: Any, X_fit: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray, *, repeats: int = 200
) -> dict[str, Any]:
    """For the original export, the compact one and the distilled student: ONNX bytes, parity
    with its own sklearn model, max/mean |dP| against the original's ONNX probabilities on the
    fit and validation rows, one-row latency and held-out scores."""
    n = X_fit.shape[1]
    student = distill_linear(teacher, X_fit)
    forms = {
        "original": (teacher, to_onnx_bytes(teacher, n, compact=False)),
        "compact": (teacher, to_onnx_bytes(teacher, n)),
        "distilled_linear": (student, to_onnx_bytes(student, n)),
    }
    X_all = np.vstack([X_fit, X_valid]).astype(np.float32)
    reference = OnnxModel.from_bytes(forms["original"][1]).predict_proba(X_all)
    row = X_valid[:1]
    out: dict[str, Any] = {}
    for label, (model, data) in forms.items():
        onnx_model = OnnxModel.from_bytes(data)
        p = onnx_model.predict_proba(X_all)
        diff = np.abs(p - reference)
        out[label] = {
            "onnx_bytes": len(data),
            "onnx_parity_max_abs_diff": max_abs_diff(model, onnx_model, X_valid),
            "max_abs_diff_vs_original": float(diff.max()),
            "mean_abs_diff_vs_original": float(diff.mean()),
            "within_tolerance": bool(diff.max() < COMPRESSED_PARITY_TOLERANCE),
            "onnx_latency_1row_us": round(
                median_latency(functools.partial(onnx_model.predict_proba, row), repeats=repeats) * 1e6, 2
            ),
            "valid": scores(onnx_model.predict_proba(X_valid), y_valid),
        }
    return out
