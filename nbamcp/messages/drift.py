"""Drift monitoring: the reference sample stored with each model version, and the monitor's
drift and calibration reports.

``ReferenceSample`` is not sent on a subject: the trainer files it (msgpack) in the model
store under its sha256, beside the version's artifact, and records where in the version's
reference (``reference["sample"]``: sha256, size, rows, seed); the monitor fetches it by
that sha256 (verified) to run two-sample tests against live feature vectors.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from nbamcp.messages import fields as f
from nbamcp.messages.base import Message


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


# ---------------------------------------------------------------------------
# ``nba.monitor.drift`` (request/reply, queue "monitor"): the drift report of a window of served
# predictions against the serving model's reference sample.

MAX_WINDOW = 20_000  # served rows the monitor keeps for drift (``[monitor] drift_max_rows`` caps it too)

WindowDays = Annotated[
    Annotated[int, msgspec.Meta(ge=1, le=3660)] | None,
    msgspec.Meta(
        description="the window: game dates up to this many days before the latest (1-3660)", examples=[30]
    ),
]
WindowPredictions = Annotated[
    Annotated[int, msgspec.Meta(ge=30, le=MAX_WINDOW)] | None,
    msgspec.Meta(description="the window: this many latest predicted games (30-20000)", examples=[500]),
]


class DriftReportRequest(Message, frozen=True):
    """Omit both for the monitor's configured window; give both for the latest N games within K days."""

    window_days: WindowDays = None
    window_predictions: WindowPredictions = None


class ColumnSummary(msgspec.Struct, frozen=True, kw_only=True):
    n: int  # present values
    missing: float  # share missing
    mean: float | None
    std: float | None
    q05: float | None
    median: float | None
    q95: float | None


class FeatureDrift(msgspec.Struct, frozen=True, kw_only=True):
    """One column's drift: ``test`` decided (KS / chi-square p < 0.05 under 1,000 rows; normed
    Wasserstein / Jensen-Shannon > 0.1 above); the other statistics are context."""

    name: str
    kind: str  # "continuous" | "flag"
    test: str | None  # "ks" | "chi2" | "wasserstein" | "jensenshannon"; None: too few values to test
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    counted: bool  # False for the calendar columns (matched, not evidence)
    ks_statistic: float | None
    ks_p_value: float | None
    wasserstein_normed: float | None
    psi: float | None
    psi_level: str  # "none" | "moderate" | "major" | "n/a"
    jensen_shannon: float | None
    reference: ColumnSummary
    current: ColumnSummary
    note: str = ""


class ReliabilityRow(msgspec.Struct, frozen=True, kw_only=True):
    lo: float
    hi: float
    n: int
    mean_predicted: float | None  # None: no game in the bin
    observed: float | None


class PerformanceEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """The label-free estimate (CBPE-style expected Brier, mean p(1-p)) beside what the results said."""

    n_predictions: int
    expected_brier: float | None  # over every game of the window
    n_realized: int  # of those, games with a result
    realized_brier: float | None
    expected_brier_realized: float | None  # the estimate over the same realized games
    brier_gap: float | None  # realized - expected on the realized games (> 0: worse than it believed)
    ece: float | None  # expected calibration error on the realized games
    bins: list[ReliabilityRow] = []  # the window's reliability table (10 bins) on its realized games


class ConceptDrift(msgspec.Struct, frozen=True, kw_only=True):
    """Page-Hinkley over the serving version's realized per-game Brier, in game-date order."""

    detector: str = "page_hinkley"
    losses_seen: int
    statistic: float
    threshold: float
    delta: float
    alarm: bool  # a detection within the last ``recent`` losses
    detections: list[str] = []  # game dates of the detections (latest last, at most 50)


class DriftAlarm(msgspec.Struct, frozen=True, kw_only=True):
    condition: str  # "dataset_drift" | "prediction_drift" | "concept_drift"
    since: float  # unix seconds of the check that raised it
    detail: str


class DriftReport(Message, frozen=True):
    model_name: str
    model_version: int  # the serving champion whose reference sample was compared
    feature_set: str
    reference_rows: int  # rows of the reference sample (before stage matching)
    reference_seasons: list[int]
    window: str  # how the window was chosen, in words
    window_from: str | None  # game dates of the window
    window_to: str | None
    n_current: int
    n_reference: int  # reference rows compared, after matching the window's stages of the season
    share: float  # drifted / tested non-calendar columns
    threshold: float
    drifted: bool
    n_tested: int
    n_drifted: int
    features: list[FeatureDrift]
    prediction: FeatureDrift | None  # drift of home_win_prob against the reference's probabilities
    performance: PerformanceEstimate
    concept: ConceptDrift
    alarms: list[DriftAlarm]  # the monitor's alarm state after its latest scheduled check
    computed_at: float
    trigger: str  # "request" | "schedule" | "results"


class DriftReportReply(Message, frozen=True):
    report: DriftReport
    png: bytes = b""


class DriftSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The latest scheduled check, in short (the dashboard's drift panel)."""

    model_version: int
    computed_at: float
    trigger: str
    window_from: str | None
    window_to: str | None
    n_current: int
    share: float
    threshold: float
    drifted: bool
    drifted_features: list[str]
    tested_features: list[str]
    prediction_drifted: bool
    alarms: list[str]


# ---------------------------------------------------------------------------
# ``nba.monitor.calibration`` (request/reply, queue "monitor").


class CalibrationReportRequest(Message, frozen=True):
    model_version: f.ModelVersion | None = None  # None: the serving champion
    since: f.OptionalDate = None  # games on or after this date


class CalibrationArm(msgspec.Struct, frozen=True, kw_only=True):
    """The version on one side of a split (canary / ab traffic): the games it answered, or the
    games another version answered while it was scored beside (shadow)."""

    arm: str  # "answered" | "shadow"
    n_games: int
    brier: float | None
    expected_brier: float | None
    ece: float | None


class CalibrationReport(Message, frozen=True):
    model_name: str
    model_version: int
    since: str | None
    n_games: int
    first_game: str | None
    last_game: str | None
    bins: list[ReliabilityRow]
    ece: float | None
    mce: float | None
    brier: float | None  # realized
    expected_brier: float | None  # mean p(1 - p) of the same predictions
    brier_gap: float | None  # realized - expected
    base_rate: float | None  # share of home wins
    # When some of its realized games were scored in shadow (shadow, canary, ab traffic): the
    # games it answered and the others, apart; [] when it answered every game.
    arms: list[CalibrationArm] = []


class CalibrationReportReply(Message, frozen=True):
    report: CalibrationReport
    png: bytes = b""
