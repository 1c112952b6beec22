"""Prediction log and monitoring: ``nba.monitor.status``."""

from __future__ import annotations

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
