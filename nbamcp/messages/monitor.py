"""Prediction log and monitoring: ``nba.monitor.status`` and ``nba.monitor.report``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from nbamcp.messages import fields as f
from nbamcp.messages.base import Message

# ---------------------------------------------------------------------------
# Prediction log and monitoring: ``nba.monitor.status`` (request/reply, queue "monitor").


class MonitorStatusRequest(Message, frozen=True):
    """Ask the monitor how the models are doing."""

    model_name: f.ModelName | None = None  # None: every model in the registry


class OfflineMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Scores recorded at training time on the held-out validation seasons."""

    n: int | None = None
    brier: float | None = None
    log_loss: float | None = None
    accuracy: float | None = None
    cv_log_loss: float | None = None
    valid_seasons: list[int] = []


class ModelVersionSummary(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    model_kind: str
    feature_set_version: str
    trained_at: str
    offline: OfflineMetrics


class ModelRoles(msgspec.Struct, frozen=True, kw_only=True):
    """A registered model and the versions its aliases point at."""

    name: str
    champion: ModelVersionSummary | None = None
    challenger: ModelVersionSummary | None = None


class RealizedMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Logged predictions of one model version scored on results that arrived after them.

    A game predicted several times by one version counts once (its last prediction).
    """

    model_name: str
    model_version: int  # 0 for the rating baseline
    source: str  # "model" | "baseline"
    role: str  # "champion" | "challenger" | "" (an older version, or the baseline)
    n_games: int
    n_predictions: int
    accuracy: float
    brier: float
    log_loss: float
    first_game: str  # YYYY-MM-DD
    last_game: str


class MonitorStatus(Message, frozen=True):
    models: list[ModelRoles]
    traffic_mode: str
    realized: list[RealizedMetrics]
    pending: int  # logged predictions whose game has no result yet
    predictions_seen: int
    results_events: int  # GamesIngested events handled
    last_results: str | None = None  # "YYYY-MM-DD..YYYY-MM-DD" of the latest results received
    registry: str = "ok"  # "ok" | "missing" (no registry file yet) | "unavailable: <why>"
    # Filled by the front end from the inference worker: what really serves ("game v1",
    # "elo-baseline"; "" when no inference worker answered), and whether that is not the
    # registry's champion (a refused artifact) and why.
    serving: str = ""
    degraded: bool = False
    degraded_reason: str = ""


# ---------------------------------------------------------------------------
# ``nba.monitor.report`` (request/reply, queue "monitor"): realized metrics over time
# and calibration, for the dashboard.


class MonitorReportRequest(Message, frozen=True):
    model_name: f.ModelName | None = None  # None: every model
    days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 365  # game dates up to this far before the latest


class RealizedDay(msgspec.Struct, frozen=True, kw_only=True):
    """One model version's realized scores on the games of one date (each game once)."""

    model_name: str
    model_version: int
    source: str
    date: str  # YYYY-MM-DD
    n_games: int
    brier: float
    log_loss: float
    accuracy: float


class CalibrationBin(msgspec.Struct, frozen=True, kw_only=True):
    """Realized games whose predicted home-win probability fell in [lo, hi)."""

    model_name: str
    model_version: int
    source: str
    lo: float
    hi: float
    n_games: int
    mean_predicted: float
    observed: float  # share of those games the home team won


class MonitorReport(Message, frozen=True):
    days: list[RealizedDay]
    calibration: list[CalibrationBin]
