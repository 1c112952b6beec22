"""The ONNX game model at run time: onnxruntime only, nothing of the exporter.

``OnnxModel`` is what the inference worker holds: one InferenceSession, one
intra-op thread (workers scale out by process, not by threads inside one
request). It imports onnxruntime alone: the exporter (``nbamcp.ml.onnx_export``)
pulls in skl2onnx and scikit-learn, seconds of start-up a serving process never
needs (a test imports every worker in a fresh interpreter to keep it so).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from nbamcp.errors import InvalidInput

INPUT_NAME = "X"
PROBA_OUTPUT = "probabilities"


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
