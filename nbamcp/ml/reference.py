"""Reference feature distributions of a training set, stored with each model version.

The monitor compares live feature vectors against them to detect drift
(population stability over the histogram bins, quantile shifts, missing rates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nbamcp.errors import InvalidInput

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HIST_BINS = 10


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
