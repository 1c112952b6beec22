"""Training jobs and the model registry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from nbamcp.messages import fields as f
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

    # Chosen by the caller so it can subscribe to progress first; "" = the trainer picks.
    job_id: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""
    name: f.ModelName = "game"
    # None: the trainer's configured value ([trainer] train_from / valid_seasons / seed).
    train_from: Annotated[
        Annotated[int, msgspec.Meta(ge=1947, le=2100)] | None,
        msgspec.Meta(
            description="the first training season (the year it ends); earlier games only warm the "
            "ratings up; omit for the trainer's setting (2001)",
            examples=[2001],
        ),
    ] = None
    valid_seasons: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=10)] | None,
        msgspec.Meta(
            description="how many of the latest seasons with games are held out to choose the winner, "
            "1 to 10; omit for the trainer's setting (2)",
            examples=[2],
        ),
    ] = None
    seed: Annotated[
        Annotated[int, msgspec.Meta(ge=0, le=f.INT32_MAX)] | None,
        msgspec.Meta(
            description="random seed: same seed, same data, same model; omit for the trainer's setting (0)",
            examples=[0],
        ),
    ] = None
    promote: Annotated[
        bool | None,
        msgspec.Meta(
            description="true: make it the champion that serves predictions; false: never; omit: only "
            "when there is no champion yet (the first model ever trained)",
            examples=[True],
        ),
    ] = None
    budget: Literal["", "default", "small", "tiny"] = ""  # "" = the trainer's configured budget
    actor: Annotated[str, msgspec.Meta(max_length=f.TEXT_MAX)] = ""  # who asked (for the audit trail)
    reason: Annotated[str, msgspec.Meta(max_length=f.TEXT_MAX)] = ""


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


JobId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class TrainCancel(Message, frozen=True):
    job_id: JobId
    actor: Annotated[str, msgspec.Meta(max_length=f.TEXT_MAX)] = ""


class TrainStatusRequest(Message, frozen=True):
    job_id: JobId


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
    name: Annotated[
        f.ModelName | None,
        msgspec.Meta(description="one registry model by name, e.g. 'game'; omit for every model"),
    ] = None


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
    version: f.ModelVersion
    alias: Annotated[
        Literal["champion", "challenger"],
        msgspec.Meta(
            description="'champion' serves predictions; 'challenger' is scored beside it in shadow mode",
            examples=["champion"],
        ),
    ]
    name: f.ModelName = "game"
    actor: Annotated[str, msgspec.Meta(max_length=f.TEXT_MAX)] = ""
    reason: f.Reason = ""


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
    name: f.ModelName
    # A number, "champion", "challenger" or "latest".
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9]+$")]


class ModelCard(Message, frozen=True):
    card: dict[str, Any]  # JSON-ready, see ModelRegistry.model_card (plus the alias audit trail)


# ``nba.models.serving`` (queue "trainer"): what a serving worker needs to serve a model name: its
# aliases and, for each aliased version, the artifact to fetch from the model object store (by
# sha256, verified on arrival) and how to use it. Inference asks on start and on ModelsChanged.


class ServingModelsRequest(Message, frozen=True):
    name: f.ModelName = "game"


class ServedVersion(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    model_kind: str
    artifact_sha256: str  # the object's name in the model store, and what its bytes must hash to
    artifact_size: int
    feature_set_version: str
    feature_names: list[str]
    reference: dict[str, Any]  # reference feature distributions (explanations, drift)
    trained_at: str


class ServingModels(Message, frozen=True):
    name: str
    aliases: dict[str, int]  # alias -> version
    versions: list[ServedVersion]  # the aliased ones

    def version(self, alias: str) -> ServedVersion | None:
        number = self.aliases.get(alias)
        return next((v for v in self.versions if v.version == number), None)
