"""sklearn pipeline -> ONNX bytes, and the parity check against the runtime.

The exported graph takes one float32 tensor ``X`` [n, n_features] and gives
``probabilities`` [n, 2] (ZipMap off: a plain tensor, ~15x faster than the
default list of dicts). Tree ensembles are then re-encoded in the compact
opset-5 form (``nbamcp.ml.onnx_compact``: the same trees in a third of the
bytes, the same probabilities). Training code only: importing skl2onnx (and
sklearn) takes seconds, so the runtime wrapper the workers hold lives apart, in
``nbamcp.ml.onnx_runtime``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

from nbamcp.errors import IntegrityError
from nbamcp.ml.onnx_compact import compact_trees
from nbamcp.ml.onnx_runtime import INPUT_NAME, OnnxModel

# ai.onnx 21 / ai.onnx.ml 3: supported by onnxruntime 1.32 and tested by skl2onnx 1.20 (tree
# ensembles then move to ai.onnx.ml 5, see compact_trees).
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}
PARITY_TOLERANCE = 1e-5


def to_onnx_bytes(
    pipeline: Any, n_features: int, *, name: str = "nbamcp_game_model", compact: bool = True
) -> bytes:
    """Convert a fitted sklearn classifier/pipeline to serialized ONNX (float32 in, no ZipMap),
    tree ensembles in the compact encoding unless ``compact`` is False."""
    with warnings.catch_warnings():
        # skl2onnx 1.20 writes booleans into int attributes; onnx 1.23 warns on every tree node.
        warnings.filterwarnings("ignore", "Field onnx.AttributeProto.ints", DeprecationWarning)
        onx = convert_sklearn(
            pipeline,
            name=name,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            options={"zipmap": False},
            target_opset=TARGET_OPSET,
        )
    data = onx.SerializeToString()
    return compact_trees(data) if compact else data


def max_abs_diff(pipeline: Any, model: OnnxModel, X: np.ndarray) -> float:
    """Largest |P_sklearn - P_onnx| over the rows of ``X`` (float32)."""
    X = np.asarray(X, dtype=np.float32)
    ref = pipeline.predict_proba(X)[:, 1]
    return float(np.max(np.abs(ref - model.predict_proba(X)))) if len(X) else 0.0


def check_parity(pipeline: Any, model: OnnxModel, X: np.ndarray, tol: float = PARITY_TOLERANCE) -> float:
    """Max abs difference sklearn vs ONNX; IntegrityError when above ``tol``."""
    diff = max_abs_diff(pipeline, model, X)
    if not diff < tol:
        raise IntegrityError(
            f"ONNX export disagrees with sklearn: max |dP| = {diff:.3g} over {len(X)} rows (limit {tol:g})"
        )
    return diff


def median_latency(fn: Callable[[], object], *, repeats: int = 200, warmup: int = 20) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))
