"""Drift monitoring: the reference sample stored with each model version.

``ReferenceSample`` is not sent on a subject: the trainer files it (msgpack) in the model
store under its sha256, beside the version's artifact, and records where in the version's
reference (``reference["sample"]``: sha256, size, rows, seed); the monitor fetches it by
that sha256 (verified) to run two-sample tests against live feature vectors.
"""

from __future__ import annotations

import msgspec


class ReferenceSample(msgspec.Struct, frozen=True, kw_only=True):
    """A seeded random sample of the rows a model version was fitted on."""

    feature_set: str
    feature_names: list[str]
    rows: list[list[float]]  # one per sampled training row, in feature order; NaN = missing
    labels: list[int]  # 1: the home team won
    probs: list[float]  # the fitted model's P(home win) for the row (the reference for prediction drift)
    seed: int
    population: int  # rows the model was fitted on (the sample's universe)
    seasons: list[int]  # fitted seasons
