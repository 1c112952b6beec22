"""Automated retraining and gated promotion: triggers, the durable job queue, gate decisions.

``nba.events.retrain`` (durable event, the trainer's consumer ``trainer-triggers``): a
``RetrainTrigger`` asks for a new challenger of a model. The drift monitor sends one on a
drift or concept-drift alarm; the trainer makes its own for ``new_results`` and
``schedule``. Every trigger is recorded with its reason; one that arrives while a job of
the same model is queued or running joins that job (coalesced) instead of starting another.
A trigger id seen before is recorded once (a redelivered or re-sent alarm is not a new one).

``nba.train.queue`` (durable work queue, the trainer's only): one ``RetrainJob`` per job,
acknowledged once the job is over; a trainer that dies mid-job gets it again on restart.

``nba.train.retraining`` (request/reply, queue "trainer"): ``RetrainingStatusRequest`` ->
``RetrainingStatus``: the triggers seen, the jobs and their state, the challengers with
their lineage, the gate's decisions with their numbers and the registry's audit trail.

``nba.monitor.paired`` (request/reply, queue "monitor"): ``PairedLossesRequest`` ->
``PairedLosses``: per game that both versions predicted and whose result arrived, each
version's log loss (the gate's input).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from nbamcp.messages import fields as f
from nbamcp.messages.base import Message

TriggerKind = Literal["drift", "concept_drift", "new_results", "schedule", "manual"]
TriggerId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, msgspec.Meta(max_length=f.TEXT_MAX, pattern=f.PRINTABLE)]
MetricName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=f.PRINTABLE)]


class RetrainTrigger(Message, frozen=True):
    """Train a new challenger of ``model_name``, because of ``kind`` (``reason`` says what was seen)."""

    # Stable per alarm (e.g. "drift:game:2023-01-14"): the stream stores it once, the trainer
    # records it once.
    trigger_id: TriggerId
    kind: TriggerKind
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=f.TEXT_MAX, pattern=f.PRINTABLE)]
    model_name: f.ModelName = "game"
    source: Annotated[str, msgspec.Meta(max_length=f.NAME_MAX, pattern=f.PRINTABLE)] = ""  # who sent it
    # The alarm's numbers (drift share, Page-Hinkley statistic, ...), at most 32 of them.
    metrics: Annotated[dict[MetricName, float], msgspec.Meta(max_length=32)] = {}
    ts: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # unix seconds when it was raised; 0: unknown

    def dedup_id(self) -> str:
        return f"retrain:{self.trigger_id}"


class RetrainJob(Message, frozen=True):
    """One retraining job on the durable work queue (``nba.train.queue``)."""

    job_id: Annotated[str, msgspec.Meta(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_-]+$")]
    model_name: f.ModelName
    trigger_id: TriggerId  # the trigger that opened the job (later ones coalesce into it)
    kind: TriggerKind
    reason: Text

    def dedup_id(self) -> str:
        return f"job:{self.job_id}"


# ---- status ----------------------------------------------------------------------------------------


class RetrainingStatusRequest(Message, frozen=True):
    model_name: Annotated[
        f.ModelName, msgspec.Meta(description="the registry model, e.g. 'game'", examples=["game"])
    ] = "game"
    limit: Annotated[int, f.limit(200, 20)] = 20


class TriggerRecord(msgspec.Struct, frozen=True, kw_only=True):
    trigger_id: str
    kind: str
    reason: str
    source: str
    metrics: dict[str, float]
    received_at: str
    job_id: str | None  # the job it opened or joined; None: ignored (see outcome)
    outcome: str  # "queued" (opened a job) | "coalesced" (joined an open job)


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    model_name: str
    state: str  # "queued" | "running" | "done" | "failed" | "cancelled"
    kind: str  # the opening trigger's kind
    reason: str
    trigger_id: str  # the opening trigger
    triggers: int  # how many triggers it answers (1 + the coalesced ones)
    attempts: int  # deliveries started (2+: retried after a crash or a stop)
    parent_version: int | None  # the champion when the job trained
    version: int | None  # the challenger it registered
    data_hash: str
    n_games: int  # games in the training snapshot
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str = ""


class GateDecision(msgspec.Struct, frozen=True, kw_only=True):
    """A paired test of a challenger against the champion on the same realized games.

    ``mean_diff`` is the mean per-game log loss of the challenger minus the champion's
    (negative: the challenger is better); ``upper`` the one-sided upper bound of the
    bootstrap over game dates at ``1 - alpha``; ``t_stat`` / ``p_value`` the paired t-test
    (one-sided, challenger better) beside it."""

    model_name: str
    challenger: int
    champion: int
    n_games: int
    n_dates: int
    challenger_log_loss: float
    champion_log_loss: float
    mean_diff: float
    upper: float
    alpha: float
    replicates: int
    seed: int
    t_stat: float
    p_value: float
    decision: str  # "promote" | "keep" | "rollback" (canary traffic: the challenger did worse)
    reason: str
    at: str
    lower: float | None = None  # the one-sided (1 - alpha) lower bound of mean_diff


class GateWaiting(msgspec.Struct, frozen=True, kw_only=True):
    """A challenger still collecting realized games before the gate decides."""

    challenger: int
    champion: int
    n_games: int  # paired realized games so far (as of the latest check)
    needed: int
    checked_at: str | None


class ABArm(msgspec.Struct, frozen=True, kw_only=True):
    """The games one model answered in ab traffic, and both models' realized log loss on them."""

    arm: str  # "challenger" | "champion": who answered these games
    version: int  # the version that answered
    n_games: int
    served_log_loss: float | None  # mean per-game log loss of the answers given
    other_log_loss: float | None  # the other model on the same games (scored in shadow)


class ABComparison(msgspec.Struct, frozen=True, kw_only=True):
    """The two arms of ab traffic on realized games (``nbamcp.ml.ab``): no decision, the numbers.

    ``arms_t`` / ``arms_p``: Welch's t-test of the served log losses of the two arms (different
    games: the classic A/B comparison, two-sided); ``paired_t`` / ``paired_p``: the paired t-test
    of challenger - champion on every game both scored (two-sided; the gate's one-sided test
    decides promotion). None when a side has fewer than two games."""

    challenger: int
    champion: int
    share: float  # [inference] ab_share: the challenger's share of the games
    n_games: int  # realized games with a served answer from one of the two
    arms: list[ABArm]
    served_log_loss: float | None  # what the callers got, over both arms
    champion_log_loss: float | None  # the champion on every game (had it answered them all)
    challenger_log_loss: float | None
    mean_diff: float | None  # challenger - champion per game, paired, every game
    paired_t: float | None
    paired_p: float | None
    arms_t: float | None
    arms_p: float | None
    summary: str
    checked_at: str | None


class ChallengerRecord(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    model_kind: str
    registered_at: str
    lineage: dict[str, Any]  # trigger, data snapshot, parent version, job
    aliases: list[str]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    at: str


class RetrainingStatus(Message, frozen=True):
    model_name: str
    aliases: dict[str, int]
    settings: dict[str, float | str]  # the triggers' and the gate's configuration
    triggers: list[TriggerRecord]  # newest first
    jobs: list[JobRecord]  # newest first
    challengers: list[ChallengerRecord]  # versions registered by retraining, newest first
    waiting: GateWaiting | None
    decisions: list[GateDecision]  # newest first
    audit: list[AuditEntry]  # every alias change, newest first
    new_results: int  # results since the latest training snapshot
    ab: ABComparison | None = None  # traffic "ab": the latest comparison of the two arms


# ---- the gate's input, from the monitor ------------------------------------------------------------


class PairedLossesRequest(Message, frozen=True):
    model_name: f.ModelName
    version_a: f.ModelVersion
    version_b: f.ModelVersion
    max_games: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 20_000


class PairedGame(msgspec.Struct, frozen=True, array_like=True):
    game_id: str
    date: str
    loss_a: float  # log loss of version_a's latest prediction before the result
    loss_b: float
    # Which version answered the caller: "a" or "b" (the other was scored in shadow), ""
    # when the log cannot tell (both rows served or both shadow).
    served: str = ""


class PairedLosses(Message, frozen=True):
    model_name: str
    version_a: int
    version_b: int
    games: list[PairedGame]  # oldest first, at most max_games (the latest ones)
