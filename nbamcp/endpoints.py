"""The protocol between the actors, declared once: every endpoint and event of the bus.

An :class:`Endpoint` is a request/reply service: its subject, the request type(s)
the responder decodes, the reply type the caller decodes, and the queue group
its responders share (``None``: every instance answers for itself). An
:class:`Event` is a one-way message: subject, type, and whether the durable
stream keeps it. Workers subscribe their routes from this table
(``nbamcp.actor.Route``) and the front end calls through it
(``Gateway.call(endpoint, request)``), so a subject, a type or a queue group
cannot differ between the two sides.

Subjects with a trailing token chosen at run time (a job id) are declared by
their prefix; ``at(token)`` gives the concrete one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nbamcp import subjects
from nbamcp.messages import (
    AcceptedGames,
    AcceptGamesRequest,
    Alert,
    AlertList,
    AlertsRequest,
    AliasMoved,
    BackupPart,
    BackupRequest,
    CacheLookupReply,
    CalibrationReportReply,
    CalibrationReportRequest,
    ComparePlayersRequest,
    CompleteRequest,
    Completions,
    Coverage,
    CoverageRequest,
    DriftReportReply,
    DriftReportRequest,
    FindPlayerRequest,
    FranchiseList,
    GameList,
    GamesIngested,
    GamesPartition,
    GamesRequest,
    HeadToHead,
    HeadToHeadRequest,
    HealthPing,
    HealthReport,
    HeldGames,
    HeldGamesRequest,
    IngestReply,
    IngestRequest,
    IngestStep,
    KeyUnits,
    KeyUnitsQuery,
    Leaders,
    LeagueLeadersRequest,
    ListModelsRequest,
    ModelCard,
    ModelCardRequest,
    ModelList,
    ModelsChanged,
    MonitorReport,
    MonitorReportRequest,
    MonitorStatus,
    MonitorStatusRequest,
    PairedLosses,
    PairedLossesRequest,
    PlayerCareer,
    PlayerCareerRequest,
    PlayerComparison,
    PlayerSearch,
    PlayerSeasonStats,
    PlayerSeasonStatsRequest,
    PredictionEvent,
    PredictionsServed,
    PredictReply,
    PredictRequest,
    PromoteRequest,
    QualityReport,
    QualityReportRequest,
    RetrainingStatus,
    RetrainingStatusRequest,
    RetrainJob,
    RetrainTrigger,
    RosterPriors,
    ScheduleList,
    SchedulePartition,
    ScheduleRequest,
    ServingModels,
    ServingModelsRequest,
    Standings,
    StandingsRequest,
    TeamRatingHistoryReply,
    TeamRatingHistoryRequest,
    TeamSeason,
    TeamSeasonRequest,
    TeamsRequest,
    TrainCancel,
    TrainJobAccepted,
    TrainJobRequest,
    TrainJobState,
    TrainProgress,
    TrainStatusRequest,
    UsageBatch,
    UsageQuery,
    UsageRows,
    UsageStored,
)

Rep = TypeVar("Rep")
M = TypeVar("M")
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[Rep]):
    """A request/reply service on the bus."""

    subject: str
    request: Any  # a message type, or a union of them (one decoder tells them apart by tag)
    reply: type[Rep]
    queue: str | None  # the responders' queue group; None: every instance answers
    summary: str = ""

    def at(self, token: str) -> Endpoint[Rep]:
        """The endpoint on ``<subject>.<token>`` (subjects named per job)."""
        return dataclasses.replace(self, subject=f"{self.subject}.{token}")

    @property
    def worker(self) -> str:
        """Who answers, for error messages ("is the stats worker running?")."""
        return self.queue or self.subject.split(".")[1]


@dataclass(frozen=True, slots=True)
class Event(Generic[M]):
    """A one-way message; ``durable`` ones go through the durable stream (and still reach
    plain subscribers). ``queue`` is the group of the usual subscriber (None: broadcast)."""

    subject: str
    message: type[M]
    queue: str | None = None
    durable: bool = False
    summary: str = ""
    dedup: Callable[[M], str] | None = None  # the durable stream's dedup id of a message

    def at(self, token: str) -> Event[M]:
        return dataclasses.replace(self, subject=f"{self.subject}.{token}")


@dataclass(frozen=True, slots=True)
class Dataset(Generic[P]):
    """A dataset in the data bucket (``[data] datasets_bucket``): one entry per partition under
    ``<name>.<partition key>``, each the whole partition, the latest value kept forever."""

    name: str
    partition: type[P]
    summary: str = ""

    def key(self, partition_key: str) -> str:
        return f"{self.name}.{partition_key}"

    @property
    def pattern(self) -> str:
        return f"{self.name}.>"


# ---- health ------------------------------------------------------------------------------------------
HEALTH = Endpoint(subjects.HEALTH, HealthPing, HealthReport, None, "scatter-gather: every instance answers")
BACKUP = Endpoint(
    subjects.OPS_BACKUP, BackupRequest, BackupPart, None, "scatter-gather: every instance backs up its home"
)


# ---- stats (queue "stats") ----------------------------------------------------------------------------
def _stats(query: str, request: Any, reply: type[Rep], summary: str) -> Endpoint[Rep]:
    return Endpoint(subjects.stats(query), request, reply, "stats", summary)


FIND_PLAYER = _stats("find_player", FindPlayerRequest, PlayerSearch, "players by (fuzzy) name")
PLAYER_SEASON_STATS = _stats(
    "player_season_stats", PlayerSeasonStatsRequest, PlayerSeasonStats, "a player's season"
)
PLAYER_CAREER = _stats("player_career", PlayerCareerRequest, PlayerCareer, "a player's career")
COMPARE_PLAYERS = _stats("compare_players", ComparePlayersRequest, PlayerComparison, "players side by side")
TEAM_SEASON = _stats("team_season", TeamSeasonRequest, TeamSeason, "a team's season")
STANDINGS = _stats("standings", StandingsRequest, Standings, "league standings")
GAMES = _stats("games", GamesRequest, GameList, "games with scores")
HEAD_TO_HEAD = _stats("head_to_head", HeadToHeadRequest, HeadToHead, "two franchises' record")
LEAGUE_LEADERS = _stats("league_leaders", LeagueLeadersRequest, Leaders, "leaders in a stat")
TEAM_RATING_HISTORY = _stats(
    "team_rating_history", TeamRatingHistoryRequest, TeamRatingHistoryReply, "a team's rating over time"
)
TEAMS = _stats("teams", TeamsRequest, FranchiseList, "every franchise")
QUALITY_REPORT = _stats("quality_report", QualityReportRequest, QualityReport, "the latest quality report")
INGEST = _stats("ingest", IngestRequest, IngestReply, "ingest files into the store (admin)")
COVERAGE = _stats("coverage", CoverageRequest, Coverage, "what the store holds (nba://data/coverage)")
COMPLETE = _stats("complete", CompleteRequest, Completions, "team / player names by prefix (completions)")
HELD_GAMES = _stats("held_games", HeldGamesRequest, HeldGames, "results held by the anomaly screen")
ACCEPT_GAMES = _stats("accept_games", AcceptGamesRequest, AcceptedGames, "release held results (admin)")
SCHEDULE = _stats("schedule", ScheduleRequest, ScheduleList, "scheduled games not played yet")
INGEST_PROGRESS = Event(
    subjects.INGEST_PROGRESS, IngestStep, summary="an ingest's progress, per call (.at(progress_token))"
)
COVERAGE_CHANGED = Event(subjects.COVERAGE_CHANGED, Coverage, summary="the store's coverage after an ingest")

STATS: tuple[Endpoint[Any], ...] = (
    FIND_PLAYER,
    PLAYER_SEASON_STATS,
    PLAYER_CAREER,
    COMPARE_PLAYERS,
    TEAM_SEASON,
    STANDINGS,
    GAMES,
    HEAD_TO_HEAD,
    LEAGUE_LEADERS,
    TEAM_RATING_HISTORY,
    TEAMS,
    QUALITY_REPORT,
    INGEST,
    COVERAGE,
    COMPLETE,
    HELD_GAMES,
    ACCEPT_GAMES,
    SCHEDULE,
)

# ---- predictions --------------------------------------------------------------------------------------
PREDICT = Endpoint(subjects.PREDICT, PredictRequest, PredictReply, "inference", "model predictions")
PREDICT_LOOKUP = Endpoint(
    subjects.PREDICT_LOOKUP, PredictRequest, CacheLookupReply, "cache", "cached predictions of a slate"
)
PREDICT_BASELINE = Endpoint(
    subjects.PREDICT_BASELINE, PredictRequest, PredictReply, "cache", "the Elo baseline (no model)"
)
PREDICT_SERVED = Event(
    subjects.PREDICT_SERVED, PredictionsServed, queue="cache", summary="fresh predictions to cache"
)

# ---- durable events -----------------------------------------------------------------------------------
PREDICTION_EVENTS = Event(
    subjects.EVENTS_PREDICTION,
    PredictionEvent,
    durable=True,
    summary="every prediction served",
    dedup=PredictionEvent.dedup_id,
)
GAMES_INGESTED = Event(subjects.EVENTS_GAMES, GamesIngested, durable=True, summary="new results in the store")

# ---- datasets (written by the stats worker, replayed by the others) ------------------------------------
GAMES_DATASET = Dataset("games", GamesPartition, "every played game, one season per entry")
ROSTERS_DATASET = Dataset(
    "rosters", RosterPriors, "the roster model's team strengths as of a date (fs2), one season per entry"
)
SCHEDULE_DATASET = Dataset(
    "schedule", SchedulePartition, "the games not played yet (nbamcp ingest --live), one season per entry"
)

# ---- models -------------------------------------------------------------------------------------------
MODELS_CHANGED = Event(subjects.MODELS_CHANGED, ModelsChanged, summary="an alias moved (broadcast)")
TRAIN_JOBS = Endpoint(subjects.TRAIN_JOBS, TrainJobRequest, TrainJobAccepted, "trainer", "start a job")
TRAIN_PROGRESS = Event(subjects.TRAIN_PROGRESS, TrainProgress, summary="a job's steps, per job (.at(job))")
TRAIN_CONTROL = Endpoint(
    subjects.TRAIN_CONTROL,
    TrainCancel | TrainStatusRequest,
    TrainJobState,
    None,
    "cancel / status of a job, answered by its owner (.at(job))",
)
MODELS_LIST = Endpoint(subjects.MODELS_LIST, ListModelsRequest, ModelList, "trainer", "registry versions")
MODELS_PROMOTE = Endpoint(subjects.MODELS_PROMOTE, PromoteRequest, AliasMoved, "trainer", "move an alias")
MODELS_CARD = Endpoint(subjects.MODELS_CARD, ModelCardRequest, ModelCard, "trainer", "a version's card")
MODELS_SERVING = Endpoint(
    subjects.MODELS_SERVING,
    ServingModelsRequest,
    ServingModels,
    "trainer",
    "aliases and the artifacts to serve",
)

# ---- automated retraining ----------------------------------------------------------------------------
RETRAIN_TRIGGERS = Event(
    subjects.EVENTS_RETRAIN,
    RetrainTrigger,
    durable=True,
    summary="ask for a new challenger (drift / concept-drift alarms, new results, schedule)",
    dedup=RetrainTrigger.dedup_id,
)
# Not on the event stream: the trainer's own work queue (``nbamcp.streams.open_train_queue``).
TRAIN_QUEUE = Event(
    subjects.TRAIN_QUEUE, RetrainJob, durable=True, summary="retraining jobs", dedup=RetrainJob.dedup_id
)
RETRAINING_STATUS = Endpoint(
    subjects.RETRAINING_STATUS,
    RetrainingStatusRequest,
    RetrainingStatus,
    "trainer",
    "triggers, retraining jobs, challengers, gate decisions and the audit trail",
)

# ---- monitor ------------------------------------------------------------------------------------------
MONITOR_STATUS = Endpoint(
    subjects.MONITOR_STATUS, MonitorStatusRequest, MonitorStatus, "monitor", "models and realized metrics"
)
MONITOR_REPORT = Endpoint(
    subjects.MONITOR_REPORT,
    MonitorReportRequest,
    MonitorReport,
    "monitor",
    "realized metrics per game date and calibration bins (the dashboard)",
)
MONITOR_DRIFT = Endpoint(
    subjects.MONITOR_DRIFT,
    DriftReportRequest,
    DriftReportReply,
    "monitor",
    "drift of a window of served predictions against the serving model's reference sample",
)
MONITOR_CALIBRATION = Endpoint(
    subjects.MONITOR_CALIBRATION,
    CalibrationReportRequest,
    CalibrationReportReply,
    "monitor",
    "reliability table, ECE, realized vs expected Brier of a model version",
)

MONITOR_PAIRED = Endpoint(
    subjects.MONITOR_PAIRED,
    PairedLossesRequest,
    PairedLosses,
    "monitor",
    "per-game log losses of two versions on the same realized games (the promotion gate)",
)

# ---- alerts (queue "alerts") ---------------------------------------------------------------------------
ALERTS = Event(
    subjects.EVENTS_ALERTS, Alert, queue="alerts", durable=True, summary="a condition a worker saw (alerting)"
)
ALERTS_LIST = Endpoint(subjects.ALERTS_LIST, AlertsRequest, AlertList, "alerts", "the stored alerts, deduped")

# ---- usage (queue "usage") ----------------------------------------------------------------------------
USAGE_RECORD = Endpoint(
    subjects.USAGE_RECORD, UsageBatch, UsageStored, "usage", "store a batch of usage counts"
)
USAGE_REPORT = Endpoint(subjects.USAGE_REPORT, UsageQuery, UsageRows, "usage", "usage per tenant and tool")
USAGE_KEY_UNITS = Endpoint(
    subjects.USAGE_KEY_UNITS, KeyUnitsQuery, KeyUnits, "usage", "units each key spent on a day (quotas)"
)
