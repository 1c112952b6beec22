"""Training jobs and the model registry."""

from __future__ import annotations

from typing import Any

import msgspec

from nbamcp.messages.base import ErrorReply, Message
from nbamcp.messages.monitor import OfflineMetrics

# ---------------------------------------------------------------------------
# Training and registry
#
# ``nba.train.jobs`` (request/reply, queue "trainer"): TrainJobRequest ->
# TrainJobAccepted (or ErrorReply: "busy" while the instance runs a job,
# "invalid_input" for seasons the store cannot serve). The job then publishes
# TrainProgress on ``nba.train.progress.<job_id>``; its last event has state
# "done" (with the result), "failed" or "cancelled" (with the error).
# ``nba.train.control.<job_id>`` (answered only by the instance that owns the
# job): TrainCancel / TrainStatusRequest -> TrainJobState.
# ``nba.models.list`` / ``nba.models.promote`` / ``nba.models.card`` (queue
# "trainer"): the registry, read and written by the trainer; a promotion
# publishes ModelsChanged on ``nba.models.changed``.


class TrainJobRequest(Message, frozen=True):
    """Train one model on the store's games and register it."""

    job_id: str = ""  # chosen by the caller so it can subscribe to progress first; "" = the trainer picks
    name: str = "game"
    # None: the trainer's configured value ([trainer] train_from / valid_seasons / seed).
    train_from: int | None = None  # first training season; earlier games only warm the ratings up
    valid_seasons: int | None = None  # the latest seasons with games, held out for selection
    seed: int | None = None
    promote: bool | None = None  # None: become champion only when there is none yet
    budget: str = ""  # "default" | "small" | "tiny"; "" = the trainer's configured budget
    actor: str = ""  # who asked (for the alias audit trail)
    reason: str = ""


class TrainJobAccepted(Message, frozen=True):
    job_id: str
    name: str
    progress_subject: str
    train_seasons: list[int]
    valid_seasons: list[int]
    budget: str


class CandidateScore(msgspec.Struct, frozen=True, kw_only=True):
    """One candidate family's best: search log loss and held-out scores."""

    name: str
    cv_log_loss: float
    brier: float
    log_loss: float
    accuracy: float


class TrainJobResult(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    name: str
    version: int
    model_kind: str
    promoted: bool
    aliases: list[str]  # aliases pointing at this version after the job
    previous_champion: int | None
    train_seasons: list[int]
    valid_seasons: list[int]
    valid: OfflineMetrics
    candidates: list[CandidateScore]
    training_seconds: float
    onnx_parity_max_abs_diff: float | None
    artifact_sha256: str
    artifact_size: int
    data_hash: str
    uri: str  # the model card resource


class TrainProgress(Message, frozen=True):
    """One step of a job; ``seq`` grows by one per event, ``fraction`` never goes down."""

    job_id: str
    seq: int
    fraction: float  # 0..1; 1.0 only on the final event
    message: str
    state: str  # "running" | "done" | "failed" | "cancelled"
    result: TrainJobResult | None = None
    error: ErrorReply | None = None


class TrainCancel(Message, frozen=True):
    job_id: str
    actor: str = ""


class TrainStatusRequest(Message, frozen=True):
    job_id: str


class TrainJobState(Message, frozen=True):
    job_id: str
    name: str
    state: str  # "running" | "cancelling" | "done" | "failed" | "cancelled"
    fraction: float
    message: str
    started_at: str
    result: TrainJobResult | None = None
    error: ErrorReply | None = None


class ListModelsRequest(Message, frozen=True):
    name: str | None = None  # None: every model


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    model_kind: str
    aliases: list[str]
    feature_set_version: str
    code_version: str
    trained_at: str
    training_seconds: float
    artifact_sha256: str
    artifact_size: int
    data_hash: str
    fit_seasons: list[int]
    valid: OfflineMetrics
    uri: str


class ModelList(Message, frozen=True):
    models: list[ModelInfo]
    aliases: dict[str, dict[str, int]]  # name -> alias -> version


class PromoteRequest(Message, frozen=True):
    version: int
    alias: str  # "champion" | "challenger"
    name: str = "game"
    actor: str = ""
    reason: str = ""


class AliasMoved(Message, frozen=True):
    """An alias change as recorded in the audit trail."""

    name: str
    alias: str
    version: int
    previous_version: int | None
    actor: str
    reason: str
    at: str


class ModelCardRequest(Message, frozen=True):
    name: str
    version: str  # a number, "champion", "challenger" or "latest"


class ModelCard(Message, frozen=True):
    card: dict[str, Any]  # JSON-ready, see ModelRegistry.model_card (plus the alias audit trail)
