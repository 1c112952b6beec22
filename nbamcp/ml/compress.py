"""Model compression: distil any fitted game model into a linear one.

The student is a logistic regression whose logit is fitted by least squares to
the teacher's logit on the teacher's own training rows (no labels needed). It
exports to ONNX as ~1 KB (vs hundreds of KB for the tree blend) and answers in
microseconds; ``compression_report`` measures what that costs in Brier.
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
from nbamcp.ml.onnx_export import OnnxModel, check_parity, median_latency, to_onnx_bytes

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
    teacher: Any, X_fit: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray
) -> dict[str, Any]:
    """Size, single-row latency and held-out Brier of teacher vs distilled student (both ONNX)."""
    n = X_fit.shape[1]
    student = distill_linear(teacher, X_fit)
    out: dict[str, Any] = {}
    p_teacher = teacher.predict_proba(X_valid)[:, 1]
    for label, model, tol in (("teacher", teacher, 1e-5), ("student", student, COMPRESSED_PARITY_TOLERANCE)):
        data = to_onnx_bytes(model, n)
        onnx_model = OnnxModel.from_bytes(data)
        row = X_valid[:1]
        p = model.predict_proba(X_valid)[:, 1]
        out[label] = {
            "onnx_bytes": len(data),
            "onnx_parity_max_abs_diff": check_parity(model, onnx_model, X_valid, tol),
            "onnx_latency_1row_us": round(
                median_latency(functools.partial(onnx_model.predict_proba, row)) * 1e6, 2
            ),
            "valid": scores(p, y_valid),
            "max_abs_diff_vs_teacher": float(np.max(np.abs(p - p_teacher))),
            "mean_abs_diff_vs_teacher": float(np.mean(np.abs(p - p_teacher))),
        }
    return out
