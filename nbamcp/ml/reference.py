"""Reference feature distributions of a training set, stored with each model version.

Two forms: per-feature summaries and histograms (``feature_reference``, in the registry row:
explanations use the means, the model card shows them), and a seeded random SAMPLE of the
fitted rows with their labels and the model's probabilities (``reference_sample``), filed in
the model store beside the artifact: the monitor's two-sample drift tests need rows, not
histograms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nbamcp.errors import InvalidInput
from nbamcp.messages import ReferenceSample

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HIST_BINS = 10
SAMPLE_ROWS = 3000  # enough for KS / chi-square against windows of hundreds; ~0.5 MB of msgpack


def feature_reference(X: np.ndarray, names: Sequence[str], *, bins: int = HIST_BINS) -> dict[str, Any]:
    """Per-feature n, missing share, mean, std, quantiles and a histogram (JSON-ready).

    Histogram edges span the 1st-99th percentile so one outlier does not squash
    every other bin; counts below/above go to the first/last bin.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise InvalidInput(f"reference needs a 2-D matrix with {len(names)} columns, got shape {X.shape}")
    out: dict[str, Any] = {"n": int(X.shape[0]), "quantiles": list(QUANTILES), "features": {}}
    for j, name in enumerate(names):
        col = X[:, j]
        ok = col[~np.isnan(col)]
        entry: dict[str, Any] = {"missing": round(float(1 - ok.size / max(col.size, 1)), 6)}
        if ok.size:
            lo, hi = np.quantile(ok, [0.01, 0.99])
            if hi <= lo:
                lo, hi = float(ok.min()) - 0.5, float(ok.max()) + 0.5
            edges = np.linspace(lo, hi, bins + 1)
            counts = np.bincount(
                np.clip(np.searchsorted(edges, ok, side="right") - 1, 0, bins - 1), minlength=bins
            )
            entry |= {
                "mean": round(float(ok.mean()), 6),
                "std": round(float(ok.std()), 6),
                "q": [round(float(v), 6) for v in np.quantile(ok, QUANTILES)],
                "hist_edges": [round(float(e), 6) for e in edges],
                "hist_counts": [int(c) for c in counts],
            }
        out["features"][name] = entry
    return out


def reference_sample(
    X: np.ndarray,
    y: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    names: Sequence[str],
    *,
    feature_set: str,
    seasons: Sequence[int],
    seed: int = 0,
    size: int = SAMPLE_ROWS,
) -> ReferenceSample:
    """``size`` rows of ``X`` (all of them when there are fewer) drawn without replacement with
    ``seed``, kept in their original (date) order, with their labels and the probabilities
    ``predict`` (the fitted model's P(home win) of a matrix) gives them."""
    if X.ndim != 2 or X.shape[1] != len(names) or len(y) != X.shape[0]:
        raise InvalidInput(
            f"a reference sample needs rows x {len(names)} features with one label per row, "
            f"got {X.shape} and {len(y)} labels"
        )
    n = X.shape[0]
    idx = np.sort(np.random.default_rng(seed).choice(n, size, replace=False)) if n > size else np.arange(n)
    rows = X[idx]
    return ReferenceSample(
        feature_set=feature_set,
        feature_names=list(names),
        rows=np.asarray(rows, dtype=np.float64).tolist(),
        labels=[int(v) for v in np.asarray(y)[idx]],
        probs=[round(float(p), 6) for p in np.asarray(predict(rows)).ravel()],
        seed=seed,
        population=n,
        seasons=sorted({int(s) for s in seasons}),
    )
