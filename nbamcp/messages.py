"""Every message that crosses the bus: the API between actors.

All are frozen ``msgspec.Struct``s, tagged (``"type"`` field) so that one
decoder per subject can tell the variants of a union apart; encoded as
msgpack. Decoders are built once here and shared.

Compatibility rule: a new field gets a default; an existing field never
changes meaning. This module depends on nothing else in the project.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """Base of every bus message; the tag is the class name."""


# ---------------------------------------------------------------------------
# Errors: an actor never sends a traceback, only a code and a sentence.


class ErrorReply(Message, frozen=True):
    code: str
    message: str
    details: dict[str, str] = {}


# ---------------------------------------------------------------------------
# Health: scatter-gather on ``nba.health`` (every worker answers).


class HealthPing(Message, frozen=True):
    pass


class HealthReport(Message, frozen=True):
    name: str
    instance: str
    status: str  # "ok" | "starting" | "stopping" | "degraded"
    version: str
    uptime_s: float
    bus: str
    inflight: int = 0
    handled: int = 0
    failed: int = 0
    subjects: list[str] = []
    detail: dict[str, str] = {}


# ---------------------------------------------------------------------------
# Stats: requests on ``nba.stats.<query>`` (queue "stats"). The replies are the
# result Structs in the "Stats results" section below.


class FindPlayerRequest(Message, frozen=True):
    query: str
    limit: int = 10


class PlayerSeasonStatsRequest(Message, frozen=True):
    player: str
    season: int | str | None = None
    season_type: str = "regular"
    per: str = "game"


class PlayerCareerRequest(Message, frozen=True):
    player: str
    season_type: str = "regular"


class ComparePlayersRequest(Message, frozen=True):
    players: list[str]
    season: int | str | None = None
    stats: list[str] | None = None


class TeamSeasonRequest(Message, frozen=True):
    team: str
    season: int | str


class StandingsRequest(Message, frozen=True):
    season: int | str
    conference: str | None = None


class GamesRequest(Message, frozen=True):
    team: str | None = None
    opponent: str | None = None
    season: int | str | None = None
    date_from: str | None = None
    date_to: str | None = None
    season_type: str = "all"
    limit: int = 50


class HeadToHeadRequest(Message, frozen=True):
    team_a: str
    team_b: str
    season_from: int | str | None = None
    season_to: int | str | None = None


class LeagueLeadersRequest(Message, frozen=True):
    stat: str
    season: int | str
    season_type: str = "regular"
    per: str = "game"
    limit: int = 10


class TeamRatingHistoryRequest(Message, frozen=True):
    team: str
    season_from: int | str
    season_to: int | str
    chart: bool = True


class TeamsRequest(Message, frozen=True):
    season: int = 2024


class QualityReportRequest(Message, frozen=True):
    pass


class IngestRequest(Message, frozen=True):
    paths: list[str]
    format: str = "auto"


# ---------------------------------------------------------------------------
# Stats results: the replies on ``nba.stats.<query>`` (top-level ones tagged),
# built by nbamcp/data/queries and nbamcp/data/ingest, read by the front end.
# Field names use the NBA's abbreviations (pts, reb, ast, fg_pct, ...).


# from nbamcp/data/queries/statline.py


class StatLine(msgspec.Struct, frozen=True, omit_defaults=False):
    """One row of stats. ``team`` is the source code of the time ("TOT" = all teams)."""

    season: int | None
    team: str
    franchise: str | None
    team_name: str | None
    age: int | None
    per: str
    gp: int | None
    gs: int | None
    min: float | None
    pts: float | None
    reb: float | None
    oreb: float | None
    dreb: float | None
    ast: float | None
    stl: float | None
    blk: float | None
    tov: float | None
    pf: float | None
    fgm: float | None
    fga: float | None
    fg3m: float | None
    fg3a: float | None
    ftm: float | None
    fta: float | None
    fg_pct: float | None
    fg3_pct: float | None
    ft_pct: float | None
    efg_pct: float | None
    ts_pct: float | None
    per_rating: float | None
    usg_pct: float | None
    ws: float | None
    ws_per48: float | None
    bpm: float | None
    vorp: float | None


# from nbamcp/data/queries/player_lookup.py


class PlayerMatch(msgspec.Struct, frozen=True):
    player_id: str
    name: str
    hall_of_fame: bool
    first_season: int | None
    last_season: int | None
    score: float


class PlayerSearch(Message, frozen=True):
    query: str
    matches: list[PlayerMatch]


# from nbamcp/data/queries/players.py


class Raptor(msgspec.Struct, frozen=True):
    """FiveThirtyEight RAPTOR for the season (Data: FiveThirtyEight, CC BY 4.0)."""

    raptor_offense: float | None
    raptor_defense: float | None
    raptor_total: float | None
    war_total: float | None


class PlayerSeasonStats(Message, frozen=True):
    player_id: str
    name: str
    hall_of_fame: bool
    season: int
    season_label: str
    season_type: str
    per: str
    traded: bool
    total: StatLine  # the TOT row for a traded player, else his one team
    teams: list[StatLine]  # each team's part, in the order he played for them (traded only)
    raptor: Raptor | None
    seasons_available: list[int]


class PlayerCareer(Message, frozen=True):
    player_id: str
    name: str
    hall_of_fame: bool
    season_type: str
    seasons: list[StatLine]  # per game, one per season (TOT for traded seasons: no double counting)
    totals: StatLine
    per_game: StatLine
    coverage: str


class ComparedPlayer(msgspec.Struct, frozen=True):
    player_id: str
    name: str
    label: str  # "2016 GSW" or "career 2010-2024"
    values: dict[str, float | None]


class PlayerComparison(Message, frozen=True):
    season: int | None  # None = career regular-season averages
    season_type: str
    per: str
    stats: list[str]
    players: list[ComparedPlayer]
    best: dict[str, str]  # stat -> player_id of the best value (lowest for tov, pf)


# from nbamcp/data/queries/games.py


class GameOut(msgspec.Struct, frozen=True):
    """One game; ``home`` / ``away`` are franchise ids, the names those of the time."""

    game_id: str
    date: str
    season: int
    season_type: str
    playin: bool
    home: str
    home_name: str
    away: str
    away_name: str
    home_pts: int
    away_pts: int
    winner: str
    neutral: bool
    sources: list[str]


class GameList(Message, frozen=True):
    total: int  # games matching the filters
    limit: int
    order: str
    games: list[GameOut]


class Record(msgspec.Struct, frozen=True):
    wins: int
    losses: int


class SeriesResult(msgspec.Struct, frozen=True):
    season: int
    winner: str
    a_wins: int
    b_wins: int


class HeadToHead(Message, frozen=True):
    team_a: str
    team_a_name: str
    team_b: str
    team_b_name: str
    season_from: int
    season_to: int
    games: int
    a_wins: int
    b_wins: int
    regular: Record  # from team_a's side
    playoffs: Record
    a_at_home: Record
    a_avg_margin: float | None
    playoff_series: list[SeriesResult]
    first_meeting: str | None
    last_meeting: str | None
    recent: list[GameOut]  # the last 10 meetings, newest first


# from nbamcp/data/queries/leaders.py


class Leader(msgspec.Struct, frozen=True):
    rank: int
    player_id: str
    name: str
    team: str  # "TOT" for a player who played for several teams
    teams: list[str]
    gp: int
    value: float


class Leaders(Message, frozen=True):
    stat: str
    season: int
    season_label: str
    season_type: str
    per: str
    qualification: str
    qualified: int  # players who met the minimum
    leaders: list[Leader]


# from nbamcp/data/queries/meta.py


class EraInfo(msgspec.Struct, frozen=True):
    first_season: int
    last_season: int | None
    name: str
    league: str
    codes: list[str]


class FranchiseInfo(msgspec.Struct, frozen=True):
    id: str
    name: str
    active: bool
    first_season: int
    last_season: int | None
    conference: str | None  # current alignment, active franchises only
    division: str | None
    codes: list[str]
    eras: list[EraInfo]


class FranchiseList(Message, frozen=True):
    franchises: list[FranchiseInfo]
    note: str


# from nbamcp/data/queries/ratings.py


class RatingPoint(msgspec.Struct, frozen=True):
    date: str
    season: int
    game_id: str
    rating: float  # after the game


class SeasonRating(msgspec.Struct, frozen=True):
    season: int
    games: int
    start: float  # after the season's first game
    end: float
    high: float
    low: float


class RatingHistory(Message, frozen=True):
    team: str
    name: str
    season_from: int
    season_to: int
    method: str
    points: list[RatingPoint]
    seasons: list[SeasonRating]


# from nbamcp/data/queries/teams.py


class Split(msgspec.Struct, frozen=True):
    wins: int
    losses: int


class PlayoffSeries(msgspec.Struct, frozen=True):
    round: int
    round_name: str
    opponent: str
    opponent_name: str
    wins: int
    losses: int
    won: bool | None


class PlayoffRun(msgspec.Struct, frozen=True):
    made_playoffs: bool
    wins: int
    losses: int
    series: list[PlayoffSeries]
    series_won: int
    champion: bool
    result: str


class TeamSeason(Message, frozen=True):
    franchise: str
    name: str  # the name of that season
    season: int
    season_label: str
    league: str
    conference: str | None
    division: str | None
    games: int
    wins: int
    losses: int
    win_pct: float
    home: Split
    away: Split
    neutral: Split
    pts_for: float  # per game
    pts_against: float
    avg_margin: float
    playin: list[GameOut]
    playoffs: PlayoffRun
    notes: list[str]


class StandingRow(msgspec.Struct, frozen=True):
    rank: int
    team: str
    name: str
    conference: str | None
    division: str | None
    wins: int
    losses: int
    win_pct: float
    games_behind: float
    home: str
    away: str
    pts_for: float
    pts_against: float
    avg_margin: float


class StandingsGroup(msgspec.Struct, frozen=True):
    name: str  # "East" / "West", or a league before 1990
    rows: list[StandingRow]


class Standings(Message, frozen=True):
    season: int
    season_label: str
    conference: str | None
    through: str  # date of the last regular-season game in the data
    groups: list[StandingsGroup]
    notes: list[str]


# from nbamcp/data/ingest/report.py


class QualityIssue(msgspec.Struct, frozen=True):
    """One rule that fired, how often, and a few examples. ``file`` is '' in run totals."""

    category: str
    rule: str
    severity: str
    count: int
    examples: list[str] = []
    file: str = ""


class FileReport(msgspec.Struct, frozen=True):
    """One file (or one live response): what was read and what it changed."""

    path: str
    layout: str
    season_type: str | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    new_game_ids: list[str]
    quality: list[QualityIssue]
    elapsed_s: float
    summary: str
    related: dict[str, int] = {}


class SkippedFile(msgspec.Struct, frozen=True):
    path: str
    reason: str


class QualityReport(Message, frozen=True):
    """The run's data-quality report: counts per rule over every file."""

    run_id: int
    created_at: str
    files_checked: int
    rows_read: int
    rows_quarantined: int
    errors: int
    warnings: int
    by_rule: dict[str, int]
    issues: list[QualityIssue]


class IngestReport(Message, frozen=True):
    """The result of ``ingest_paths``; ``new_game_ids`` feeds the later feedback loop."""

    run_id: int
    started_at: str
    elapsed_s: float
    files: list[FileReport]
    skipped: list[SkippedFile]
    new_game_ids: list[str]
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    quality: QualityReport
    summary: str


class TeamRatingHistoryReply(Message, frozen=True):
    history: RatingHistory
    png: bytes | None = None  # the chart, when asked for


class IngestReply(Message, frozen=True):
    """An ingest run's report, its game-id lists cut to the first 100 so the reply fits a bus message."""

    report: IngestReport
    new_games: int


# ---------------------------------------------------------------------------
# Encoding helpers shared by every actor and the front end.

_encoder = msgspec.msgpack.Encoder()
T = TypeVar("T")


def encode(msg: msgspec.Struct) -> bytes:
    return _encoder.encode(msg)


_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def decoder_for(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    """One decoder per message type (or union), built on first use and kept."""
    dec = _decoders.get(type_)
    if dec is None:
        dec = _decoders[type_] = msgspec.msgpack.Decoder(type_)
    return dec


def decode(data: bytes, type_: type[T]) -> T:
    return decoder_for(type_).decode(data)


# ---------------------------------------------------------------------------
# Events shared by several actors (contract between producers and consumers).


class PredictionEvent(Message, frozen=True):
    """One prediction served; published on ``nba.events.prediction`` (durable)."""

    request_id: str
    ts: float  # unix seconds
    model_name: str
    model_version: int  # 0 for the rating baseline used when no model answers
    source: str  # "model" | "baseline"
    home: str  # franchise ids
    away: str
    date: str  # YYYY-MM-DD of the game
    neutral: bool
    home_win_prob: float
    feature_set: str
    features: list[float]
    latency_ms: float
    game_id: str | None = None
    cached: bool = False
    client: str = ""


class GamesIngested(Message, frozen=True):
    """New results reached the store; published on ``nba.events.games``."""

    game_ids: list[str]
    teams: list[str]  # franchise ids with new results
    date_from: str
    date_to: str


class ModelsChanged(Message, frozen=True):
    """An alias moved; published on ``nba.models.changed``."""

    name: str
    alias: str
    version: int
    previous_version: int | None = None


# ---------------------------------------------------------------------------
# Prediction log and monitoring: ``nba.monitor.status`` (request/reply, queue "monitor").


class MonitorStatusRequest(Message, frozen=True):
    """Ask the monitor how the models are doing."""

    model_name: str | None = None  # None: every model in the registry


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


# ---------------------------------------------------------------------------
# Predictions
#
# ``nba.predict`` (inference worker) and ``nba.predict.baseline`` (cache worker)
# take a PredictRequest and answer a PredictReply; ``nba.predict.lookup``
# (cache worker) answers a CacheLookupReply; ``nba.predict.served`` carries
# fresh model predictions from inference to the cache. PredictionEvent.source
# is "model" for the champion's answer and for the challenger scored beside it
# (shadow traffic: same request id, the challenger's name and version),
# "baseline" for the Elo fallback (model_version 0).


class GameQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One game as the user named it; the worker resolves the teams."""

    home: str
    away: str
    date: str | None = None  # YYYY-MM-DD; None: today
    neutral: bool = False


class PredictRequest(Message, frozen=True):
    """A whole slate in one request."""

    games: list[GameQuery]
    client: str = ""


class Contribution(msgspec.Struct, frozen=True, kw_only=True):
    """How one feature moved the prediction; ``effect`` > 0 favours the home team."""

    feature: str
    label: str  # what a fan reads: "Celtics' point margin, last 10 games"
    value: float | None  # the feature's value (None when unknown, e.g. no game yet this season)
    effect: float  # in the prediction's ``unit``, signed toward the home team


class GameResult(msgspec.Struct, frozen=True, kw_only=True):
    """The actual result of a game already played."""

    game_id: str
    home_pts: int
    away_pts: int
    winner: str  # franchise id
    season_type: str


class ShadowScore(msgspec.Struct, frozen=True, kw_only=True):
    """The challenger's probability for the same game (traffic mode "shadow")."""

    model_name: str
    model_version: int
    home_win_prob: float


class GamePrediction(msgspec.Struct, frozen=True, kw_only=True):
    home: str  # franchise ids
    away: str
    home_name: str  # the team names of that season
    away_name: str
    date: str
    season: int
    neutral: bool
    playoff: bool
    home_win_prob: float
    away_win_prob: float
    winner: str  # the predicted winner's franchise id
    winner_name: str
    source: str  # "model" | "baseline"
    model_name: str
    model_version: int  # 0 for the baseline
    unit: str  # unit of the contributions' effect: "log-odds" | "probability" | "elo"
    explanation: str  # how the contributions were computed
    contributions: list[Contribution]
    features: dict[str, float | None]
    cached: bool = False
    result: GameResult | None = None
    challenger: ShadowScore | None = None


class PredictReply(Message, frozen=True):
    request_id: str
    predictions: list[GamePrediction]
    traffic: str = "shadow"


class CacheLookupReply(Message, frozen=True):
    """One entry per requested game, in order: the cached prediction or None."""

    hits: list[GamePrediction | None]


class CachedPrediction(msgspec.Struct, frozen=True):
    key: str
    prediction: GamePrediction


class PredictionsServed(Message, frozen=True):
    entries: list[CachedPrediction]


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
