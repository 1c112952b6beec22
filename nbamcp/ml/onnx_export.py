"""sklearn pipeline -> ONNX bytes, the parity check, and the runtime wrapper.

The exported graph takes one float32 tensor ``X`` [n, n_features] and gives
``probabilities`` [n, 2] (ZipMap off: a plain tensor, ~15x faster than the
default list of dicts). Tree ensembles are then re-encoded in the compact
opset-5 form (``nbamcp.ml.onnx_compact``: the same trees in a third of the
bytes, the same probabilities). ``OnnxModel`` is what the inference worker holds: one
InferenceSession, one intra-op thread (workers scale out by process, not by
threads inside one request).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

from nbamcp.errors import IntegrityError, InvalidInput
from nbamcp.ml.onnx_compact import compact_trees

# ai.onnx 21 / ai.onnx.ml 3: supported by onnxruntime 1.32 and tested by skl2onnx 1.20 (tree
# ensembles then move to ai.onnx.ml 5, see compact_trees).
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}
INPUT_NAME = "X"
PROBA_OUTPUT = "probabilities"
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


class OnnxModel:
    """A loaded ONNX game model: P(home win) for float32 feature rows."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise InvalidInput(f"expected a model with one input, this one has {len(inputs)}")
        self._input = inputs[0].name
        shape = inputs[0].shape
        self.n_features = int(shape[1]) if len(shape) == 2 and isinstance(shape[1], int) else None
        names = [o.name for o in session.get_outputs()]
        if PROBA_OUTPUT not in names:
            raise InvalidInput(
                f"model has no {PROBA_OUTPUT!r} output (outputs: {names}); export with zipmap off"
            )
        self._outputs = [PROBA_OUTPUT]

    @classmethod
    def from_bytes(cls, data: bytes) -> OnnxModel:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # onnxruntime warns about unused initializers skl2onnx leaves in calibrated graphs.
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad graph
            raise InvalidInput(f"not a loadable ONNX model: {exc}") from None
        return cls(session)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(home win) for each row of ``X`` (float32, shape [n, n_features])."""
        if not isinstance(X, np.ndarray) or X.dtype != np.float32:
            raise InvalidInput("X must be a float32 numpy array")
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or (self.n_features is not None and X.shape[1] != self.n_features):
            raise InvalidInput(f"X must have shape [n, {self.n_features}], got {X.shape}")
        (proba,) = self._session.run(self._outputs, {self._input: X})
        return proba[:, 1]


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
