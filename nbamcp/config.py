"""Configuration: TOML files decoded into strict msgspec Structs, then env overrides.

Load order (later wins):

1. the Struct defaults below (identical to ``configs/default.toml``; a test keeps
   them in step, so an installed wheel without ``configs/`` behaves the same);
2. ``configs/default.toml``;
3. ``configs/<env>.toml`` where ``env`` is ``NBAMCP_ENV`` (``dev`` / ``prod``);
4. the file named by ``--config`` or ``NBAMCP_CONFIG``;
5. environment variables: ``NBAMCP_HOME``, ``NBAMCP_DATA_DIR``, ``NBAMCP_BUS_URL``,
   ``NBAMCP_LOG_LEVEL``.

Unknown keys and wrong types are rejected with one line naming the file, the key
and what was expected. Secrets (the NATS token) come only from the environment
(``NBAMCP_NATS_TOKEN``) or a file (``bus.token_file`` / ``NBAMCP_NATS_TOKEN_FILE``)
and are wrapped in :class:`Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from nbamcp.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "configs"
ENVIRONMENTS = ("default", "dev", "prod")


class Secret:
    """A string that refuses to be printed or logged."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class PathsConfig(_Section, frozen=True):
    # Every file the server writes lives under home: store, registry, logs of
    # predictions. Empty means ~/.nbamcp. Relative paths are relative to the cwd.
    home: str = ""
    # Where source data is read from. Empty means ../shared/data beside the
    # project when it exists (the development layout).
    data_dir: str = ""


class BusConfig(_Section, frozen=True):
    url: str = "memory://"
    request_timeout_s: float = 10.0
    connect_timeout_s: float = 2.0
    token_file: str = ""


class ServerConfig(_Section, frozen=True):
    transport: Literal["stdio", "sse", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    # How long health waits for workers to answer the scatter-gather ping.
    health_timeout_s: float = 1.0
    # Tool calls made while the embedded workers start (the first start ingests
    # the data) wait this long for them.
    startup_timeout_s: float = 120.0
    # The longest one tool call may take once the workers are up (ingest_games has 330 s,
    # train_model none: it is cancellable and watched by its own idle check).
    call_deadline_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    # The URL clients use to reach this server (behind a reverse proxy:
    # "https://nba.example.com"). Empty: http://host:port. Its host is allowed,
    # and it names the resource in the OAuth protected-resource metadata.
    public_url: str = ""
    # Host and Origin headers accepted on HTTP/SSE, on every bind (DNS-rebinding
    # protection). Patterns as in the MCP SDK: "example.com", "10.0.0.5:*".
    # Empty: the bind address (loopback: every loopback spelling) and
    # public_url's host, any port; a wildcard bind (0.0.0.0) needs them set.
    allowed_hosts: list[str] = msgspec.field(default_factory=list)
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    # Largest request body accepted (HTTP 413 above).
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1_048_576
    # Streamable-HTTP sessions: closed after this long without a request; at
    # most max_sessions open in all, and max_sessions_per_client for one key
    # (or one address without auth), SSE streams included.
    session_idle_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 1800.0
    max_sessions: Annotated[int, msgspec.Meta(ge=1)] = 1000
    max_sessions_per_client: Annotated[int, msgspec.Meta(ge=1)] = 16
    # On SIGTERM, tool calls in flight get this long to finish (new ones are refused) before the
    # transport stops and the bus closes; then open HTTP connections get graceful_shutdown_s.
    drain_s: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    # On SIGTERM, open HTTP connections get this long before they are closed.
    graceful_shutdown_s: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    # TLS straight from uvicorn (or put a reverse proxy in front: docs/runbook.md).
    tls_certfile: str = ""
    tls_keyfile: str = ""
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are trusted ("" = none).
    forwarded_allow_ips: str = ""


class AuthConfig(_Section, frozen=True):
    # HTTP and SSE need an API key (Authorization: Bearer KEY). `--no-auth`
    # turns this off, on a loopback bind only. stdio is always trusted.
    enabled: bool = True
    # The hashed keys (`nbamcp keys ...`). Empty: <home>/keys.json.
    keys_file: str = ""
    # How long a dashboard login (session cookie) lasts.
    dashboard_session_s: Annotated[float, msgspec.Meta(gt=0)] = 43200.0


class LimitsConfig(_Section, frozen=True):
    # Defaults for keys created without --rate-per-minute / --burst / --daily-quota:
    # a token bucket of `burst` units refilled at `rate_per_minute`, and at most
    # `daily_quota` units per UTC day (0: no quota).
    rate_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    burst: Annotated[int, msgspec.Meta(ge=1)] = 30
    daily_quota: Annotated[int, msgspec.Meta(ge=0)] = 20000
    # What a call costs, in units: 1, or tool_costs[tool]; predict_games costs
    # one unit per games_per_unit games of its slate (rounded up), schedule one per
    # games_per_unit games of its limit (it predicts each game it lists).
    tool_costs: dict[str, Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(
        default_factory=lambda: {"train_model": 20, "ingest_games": 5}
    )
    games_per_unit: Annotated[int, msgspec.Meta(ge=1)] = 10
    # Raw HTTP requests per key (any path), refused with 429 + Retry-After.
    http_requests_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    http_burst: Annotated[int, msgspec.Meta(ge=1)] = 120
    # Usage counters are written to <home>/usage.sqlite this often.
    usage_flush_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0


class MetricsConfig(_Section, frozen=True):
    # `nbamcp worker NAME --metrics-port N` serves Prometheus metrics on this
    # address (no auth: keep it on loopback or a private network).
    host: str = "127.0.0.1"
    worker_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0


class TracingConfig(_Section, frozen=True):
    # OTLP/HTTP endpoint for OpenTelemetry spans ("http://127.0.0.1:4318/v1/traces");
    # empty: no exporter (traceparent still travels and is logged).
    otlp_endpoint: str = ""
    service_name: str = "nbamcp"


class LogConfig(_Section, frozen=True):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class WorkersConfig(_Section, frozen=True):
    # Workers started as tasks by `nbamcp serve` on the in-memory bus, in this order
    # (the trainer, which answers which models serve, before the workers that ask).
    embedded: list[str] = msgspec.field(
        default_factory=lambda: [
            "stats",
            "trainer",
            "inference",
            "cache",
            "predlog",
            "monitor",
            "usage",
            "alerts",
        ]
    )
    # Messages one worker handles at once; more wait in the bus.
    concurrency: int = 32
    # On SIGTERM, in-flight messages get this long to finish before cancellation.
    stop_deadline_s: float = 10.0
    # The interpreter's GIL switch interval (sys.setswitchinterval) in each process. SQLite's
    # threads (the outbox writer, aiosqlite's) let go of the GIL at every step; while the event
    # loop is busy each took up to the 5 ms default to get it back, so a 256-row insert took
    # 0.5-1.4 s and the prediction log's consumers fell behind (docs/benchmarks.md). At 0.5 ms
    # they kept up over 2,000 slates; predictions cost the same (bench/predict.py).
    switch_interval_ms: Annotated[float, msgspec.Meta(gt=0, le=100)] = 0.5


class EventsConfig(_Section, frozen=True):
    # The durable stream of events that must not be lost (predictions, new
    # results): JetStream on NATS, an SQLite outbox under paths.home in process.
    stream: str = "NBA_EVENTS"
    max_age_days: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    # Unacked events are delivered again after ack_wait_s, at most max_deliver times.
    ack_wait_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    max_deliver: Annotated[int, msgspec.Meta(ge=1)] = 5
    publish_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    # Prediction events leave the serving workers in groups, after the reply: at most
    # group_size events, sent group_delay_s after the group's first. With journal, each
    # request's events are first written to the worker's journal (journal/ under
    # paths.home/WORKER-journal: a file write, no commit) and sent again by its next start if the process
    # died holding them. At most groups_in_flight groups are being stored at once: while the
    # store is behind, events wait for the next (bigger) group instead of piling up publishes.
    group_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 256
    group_delay_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 0.02
    groups_in_flight: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 4
    journal: bool = True


class PredlogConfig(_Section, frozen=True):
    # Events written to the prediction log per transaction, and the longest an
    # event waits for its batch to fill.
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 256
    max_delay_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 0.05


class MonitorConfig(_Section, frozen=True):
    # Events handled per transaction by the feedback join.
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 256
    max_delay_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 0.1
    # Drift checks against the serving champion's reference sample: every drift_every_s
    # (0: never on a schedule), after each ingest of results (drift_after_results), and
    # on demand (drift_report). The scheduled window: the latest drift_window_predictions
    # predicted games, within drift_window_days of the latest game date when set.
    drift_every_s: Annotated[float, msgspec.Meta(ge=0, le=7 * 86400)] = 3600.0
    drift_after_results: bool = True
    drift_window_predictions: Annotated[int, msgspec.Meta(ge=30, le=20_000)] = 500
    drift_window_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] | None = None
    # Served feature rows kept for drift (the oldest are dropped): bounds the file and every window.
    drift_max_rows: Annotated[int, msgspec.Meta(ge=100, le=20_000)] = 20_000
    # Page-Hinkley on the champion's realized per-game Brier (defaults chosen on real seasons,
    # docs/monitoring.md); the concept alarm stays up for concept_alarm_games losses after a detection.
    page_hinkley_threshold: Annotated[float, msgspec.Meta(gt=0)] = 8.0
    page_hinkley_delta: Annotated[float, msgspec.Meta(ge=0)] = 0.005
    concept_alarm_games: Annotated[int, msgspec.Meta(ge=1)] = 200
    # A newly raised dataset-drift or concept-drift alarm sends the trainer a RetrainTrigger.
    retrain_on_alarm: bool = True


class AnomaliesConfig(_Section, frozen=True):
    # The screen of ingested results (nbamcp/monitoring/anomalies.py): a flagged game is held out
    # of the games dataset until accept_games. See docs/monitoring.md for what each rule measured
    # on the real history.
    enabled: bool = True
    # Total points or home margin this many robust deviations (1.4826 * MAD) from the season's
    # median; the season's reference is filled up with earlier seasons to min_reference games.
    score_k: Annotated[float, msgspec.Meta(gt=0)] = 7.0
    min_reference: Annotated[int, msgspec.Meta(ge=30)] = 300
    # Mass upsets: favourites of at least 1 - upset_prob beaten, in upset_window_days, at least
    # min_upsets of them and a Poisson tail below upset_alpha.
    upset_prob: Annotated[float, msgspec.Meta(gt=0, lt=0.5)] = 0.2
    upset_window_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 7
    upset_alpha: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 1e-6
    min_upsets: Annotated[int, msgspec.Meta(ge=1)] = 5
    # A team with two games on one date; more games on a date than half the season's teams.
    team_day: bool = True
    date_burst: bool = True
    # A store's first ingest (the stats worker's auto-ingest of the data folder, or `nbamcp ingest`
    # into an empty store): the games of the data's last first_ingest_days game dates' span are
    # screened against everything before them, the trusted history (0: not screened).
    first_ingest_days: Annotated[int, msgspec.Meta(ge=0, le=366)] = 14


class AlertsConfig(_Section, frozen=True):
    # One alert per condition key per dedupe window (later ones only count as repeats); the
    # newest `keep` alerts are kept in <home>/alerts.sqlite.
    dedupe_window_s: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    keep: Annotated[int, msgspec.Meta(ge=10)] = 10000
    # POST every new alert as JSON to this URL ("" = no webhook), with up to webhook_retries
    # retries, waiting webhook_backoff_s, then twice as long each time (at most 60 s).
    webhook_url: str = ""
    webhook_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    webhook_retries: Annotated[int, msgspec.Meta(ge=0, le=20)] = 5
    webhook_backoff_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    webhook_queue: Annotated[int, msgspec.Meta(ge=1)] = 1000
    # Operations: every ops_interval_s (0: off) the alerts worker asks every worker for its
    # health and watches, per worker, the mean latency and the error rate of the interval with
    # a rolling median/MAD (nbamcp/monitoring/spikes.py): ops_k deviations, at least double the
    # median, and at least the floor above it. Intervals with fewer requests are not judged.
    ops_interval_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    ops_window: Annotated[int, msgspec.Meta(ge=3)] = 60
    ops_min_history: Annotated[int, msgspec.Meta(ge=3)] = 10
    ops_k: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    ops_min_requests: Annotated[int, msgspec.Meta(ge=1)] = 20
    ops_latency_floor_ms: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    ops_error_rate_floor: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.05
    ops_health_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0


class InferenceConfig(_Section, frozen=True):
    # The registry model whose champion (and challenger) the inference worker serves.
    model_name: str = "game"
    # "shadow": the champion answers and the challenger, when set, is scored on the
    # same rows and logged beside it; "champion": the challenger is not scored;
    # "canary": the challenger answers canary_share of the games (the same games every
    # time), the champion the rest, each scored and logged beside the other; the trainer
    # rolls the challenger back when its realized loss is significantly worse.
    # "ab": the challenger answers ab_share of the games (the same sticky split), both scored
    # and logged; no automatic rollback: the two arms' realized losses are compared and shown
    # (retraining_status, calibration_report), and the gate decides as in shadow.
    traffic: Literal["shadow", "champion", "canary", "ab"] = "shadow"
    canary_share: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.1
    ab_share: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5

    def challenger_share(self) -> float:
        """The share of games the challenger answers (sticky per game): 0 unless canary or ab."""
        return {"canary": self.canary_share, "ab": self.ab_share}.get(self.traffic, 0.0)

    # Micro-batching: at most this many rows per onnxruntime call (a slate is split) and
    # at most workers.concurrency requests per batch (all one instance admits at once). A
    # batch goes as soon as the event loop has nothing else ready; while it is busy (other
    # requests on their way), a request waits at most max_wait_ms for them to join: 2 ms held
    # 1.3 rows per flush over stdio under 64 in flight, 10 ms 4-5 (docs/benchmarks.md).
    max_batch_size: int = 256
    max_wait_ms: float = 10.0
    # Games in one predict_games call (one bus request, one reply).
    max_slate: int = 500
    top_contributions: int = 5
    # Request ids remembered (a retried request gets the same answer, logged once), each map of the
    # inference and cache workers: at most idempotency_entries ids, and their replies (msgpack) within
    # idempotency_max_bytes, oldest dropped first (a 500-game reply is ~0.5 MB; a retry comes soon).
    idempotency_entries: Annotated[int, msgspec.Meta(ge=1)] = 10000
    idempotency_max_bytes: Annotated[int, msgspec.Meta(ge=0)] = 16 * 2**20
    # The front end's path to the worker: per-attempt timeout, retries with
    # exponential backoff on timeouts / no responders, and the circuit breaker.
    timeout_s: float = 3.0
    retries: int = 2
    retry_backoff_ms: float = 20.0
    breaker_failures: int = 3
    # The breaker's open time starts here and doubles with each failed trial, up to
    # breaker_cooldown_s: a short outage is not stretched, a long one is not hammered.
    breaker_min_cooldown_s: float = 0.5
    breaker_cooldown_s: float = 15.0


class CacheConfig(_Section, frozen=True):
    # Per-instance LRU of served predictions; entries live at most ttl_s.
    max_entries: int = 20000
    ttl_s: float = 3600.0
    # A second level shared by every cache instance, in this key-value bucket ("" turns it off):
    # a JetStream KV bucket in nats-server's memory on NATS, its in-process twin on the memory bus.
    # It holds at most kv_max_mb (keys and values; the oldest go first) and entries for ttl_s.
    kv_bucket: str = "nbamcp-predictions"
    kv_max_mb: Annotated[float, msgspec.Meta(gt=0)] = 64.0
    # The front end asks the cache first; it gives up on it after this long.
    lookup_timeout_s: float = 0.5


class DataConfig(_Section, frozen=True):
    # What workers exchange besides messages (JetStream on NATS, twins in process): the datasets
    # (every game, one entry per season, kept forever) in a key-value bucket, and the model
    # artifacts (by sha256) in an object store. Their owners (stats, trainer) check every
    # reconcile_s that the server still holds what they published, and publish it again if not.
    datasets_bucket: str = "nbamcp-data"
    models_bucket: str = "nbamcp-models"
    reconcile_s: Annotated[float, msgspec.Meta(gt=0)] = 300.0
    # A worker that replays the datasets on start gives up (and says why) after this long.
    replay_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 120.0


class FeaturesConfig(_Section, frozen=True):
    # The feature set the trainer trains and inference and the cache compute (nbamcp.ml.features):
    # "fs1" from results only, "fs2" with the roster model's strengths too (the stats worker
    # publishes them as the rosters dataset). A model of another set is refused by inference.
    served: Literal["fs1", "fs2"] = "fs1"


class StatsConfig(_Section, frozen=True):
    # Ingest NBAMCP_DATA_DIR on the first start when the store is empty.
    auto_ingest: bool = True
    # Folders (besides data_dir and home) that the ingest_games tool may read.
    ingest_roots: list[str] = msgspec.field(default_factory=list)
    # The largest file the ingest_games tool reads (the shared data's largest is 6 MB).
    max_file_mb: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 32
    # Answers kept per version of the data (an ingest starts afresh), least recently used
    # out first past either bound; 0 turns the cache off.
    answer_cache_entries: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 2048
    answer_cache_mb: Annotated[float, msgspec.Meta(ge=0, le=4096)] = 32.0


class TrainerConfig(_Section, frozen=True):
    # The registry model the trainer trains and promotes (the one inference serves).
    model_name: str = "game"
    # On start with no champion, train one in the background and make it champion,
    # so that the quick start serves a real model without a manual step.
    auto_train: bool = True
    # What a job trains on unless it says otherwise: seasons from train_from on,
    # the latest valid_seasons seasons held out to choose the winner.
    train_from: Annotated[int, msgspec.Meta(ge=1947)] = 2001
    valid_seasons: Annotated[int, msgspec.Meta(ge=1, le=10)] = 2
    seed: int = 0
    # Hyperparameter search size: "default" (three families, full grid),
    # "small" (smaller grid) or "tiny" (one logistic regression, for tests).
    budget: Literal["default", "small", "tiny"] = "default"
    # OpenMP/BLAS threads for the fits (0: the libraries' default).
    threads: Annotated[int, msgspec.Meta(ge=0)] = 1


class BackupConfig(_Section, frozen=True):
    # `nbamcp backup` without DEST writes here ("": DEST must be given). Keep it off the
    # home's disk: a backup on the disk that failed is no backup.
    dir: str = ""
    # Complete backups kept in the destination folder; older ones are deleted after each backup.
    keep: Annotated[int, msgspec.Meta(ge=1)] = 7
    # On NATS, `nbamcp backup --bus` waits this long for every worker's part.
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 300.0


class RetrainConfig(_Section, frozen=True):
    # Automated retraining (the trainer): each trigger makes a job on a durable work queue
    # (JetStream stream `queue_stream` on NATS, <home>/train-queue.sqlite in process); triggers
    # that arrive while a job is queued or running join it. The new model is registered as
    # the challenger; the gate promotes it only on a significant win in realized log loss.
    # A trigger after this many new results since the latest training snapshot (0: off).
    min_new_results: Annotated[int, msgspec.Meta(ge=0)] = 300
    # A trigger every schedule_s seconds (0: off).
    schedule_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    # The search budget of retraining jobs ("": the trainer's budget).
    budget: Literal["", "default", "small", "tiny"] = ""
    queue_stream: str = "NBA_TRAIN"
    # A job not acknowledged within ack_wait_s (the trainer died) is delivered again, at most
    # max_deliver times; a running job tells the queue it is alive every ack_wait_s / 3.
    ack_wait_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    max_deliver: Annotated[int, msgspec.Meta(ge=1)] = 3
    # The gate: after gate_min_games realized games predicted by both champion and challenger,
    # promote when the one-sided (1 - gate_alpha) upper bound of the mean log-loss difference
    # (challenger - champion, bootstrap over game dates) is below zero; else keep the champion.
    gate_min_games: Annotated[int, msgspec.Meta(ge=10)] = 200
    gate_alpha: Annotated[float, msgspec.Meta(gt=0, lt=0.25)] = 0.05
    gate_replicates: Annotated[int, msgspec.Meta(ge=100, le=100_000)] = 2000
    # In canary traffic: a rollback once at least this many paired games show the challenger
    # significantly worse (the same test, the other way round); a "keep" ends the canary too.
    canary_rollback_min_games: Annotated[int, msgspec.Meta(ge=10)] = 50
    # The gate also looks every gate_check_s (besides after every change of the games).
    gate_check_s: Annotated[float, msgspec.Meta(gt=0)] = 300.0


class Config(_Section, frozen=True):
    env: str = "default"
    paths: PathsConfig = PathsConfig()
    bus: BusConfig = BusConfig()
    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    workers: WorkersConfig = WorkersConfig()
    stats: StatsConfig = StatsConfig()
    inference: InferenceConfig = InferenceConfig()
    cache: CacheConfig = CacheConfig()
    events: EventsConfig = EventsConfig()
    predlog: PredlogConfig = PredlogConfig()
    monitor: MonitorConfig = MonitorConfig()
    anomalies: AnomaliesConfig = AnomaliesConfig()
    alerts: AlertsConfig = AlertsConfig()
    trainer: TrainerConfig = TrainerConfig()
    retrain: RetrainConfig = RetrainConfig()
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    metrics: MetricsConfig = MetricsConfig()
    tracing: TracingConfig = TracingConfig()
    backup: BackupConfig = BackupConfig()

    # ---- derived values -------------------------------------------------
    @property
    def home(self) -> Path:
        return Path(self.paths.home).expanduser() if self.paths.home else Path.home() / ".nbamcp"

    @property
    def data_dir(self) -> Path:
        if self.paths.data_dir:
            return Path(self.paths.data_dir).expanduser()
        return (PROJECT_ROOT.parent / "shared" / "data").resolve()

    @property
    def store_path(self) -> Path:
        """The stats store (games, players, quality reports)."""
        return self.home / "store.sqlite"

    @property
    def registry_path(self) -> Path:
        return self.home / "registry.sqlite"

    @property
    def artifacts_dir(self) -> Path:
        """Content-addressed model artifacts."""
        return self.home / "artifacts"

    @property
    def predlog_path(self) -> Path:
        return self.home / "predlog.sqlite"

    @property
    def events_path(self) -> Path:
        """The durable event outbox used on the in-memory bus."""
        return self.home / "events.sqlite"

    @property
    def model_cache_dir(self) -> Path:
        """Artifacts a serving worker fetched from the model store, verified (its own copy)."""
        return self.home / "model-cache"

    def journal_dir(self, worker: str) -> Path:
        """A serving worker's crash journal of prediction events (``nbamcp.serving.event_journal``)."""
        return self.home / f"{worker}-journal"

    def snapshot_path(self, worker: str) -> Path:
        """A worker's snapshot of state it derived from the datasets (a cheap restart)."""
        return self.home / f"{worker}-features.snapshot"

    @property
    def train_queue_path(self) -> Path:
        """The trainer's durable job queue in process (JetStream on NATS)."""
        return self.home / "train-queue.sqlite"

    @property
    def retrain_path(self) -> Path:
        """The trainer's record of triggers, retraining jobs and gate decisions."""
        return self.home / "retrain.sqlite"

    @property
    def monitor_path(self) -> Path:
        """Predictions awaiting results and their realized outcomes (the monitor's own file)."""
        return self.home / "monitor.sqlite"

    @property
    def alerts_path(self) -> Path:
        """Recent alerts and what the webhook took (the alerts worker's own file)."""
        return self.home / "alerts.sqlite"

    @property
    def keys_path(self) -> Path:
        """The API keys (hashed) of the HTTP/SSE front end."""
        return Path(self.auth.keys_file).expanduser() if self.auth.keys_file else self.home / "keys.json"

    @property
    def usage_path(self) -> Path:
        """Usage per tenant, key and tool by the hour (the usage worker's own file)."""
        return self.home / "usage.sqlite"

    def nats_token(self) -> Secret | None:
        token = os.environ.get("NBAMCP_NATS_TOKEN")
        if token:
            return Secret(token)
        path = os.environ.get("NBAMCP_NATS_TOKEN_FILE") or self.bus.token_file
        if not path:
            return None
        try:
            return Secret(Path(path).expanduser().read_text().strip())
        except OSError as exc:
            raise ConfigError(f"bus.token_file: cannot read {path!r}: {exc.strerror}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _decode(raw: dict[str, Any], origin: str) -> Config:
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        # msgspec says e.g. "Expected `int`, got `str` - at `$.server.port`":
        # turn the JSON path into the TOML key a person would edit.
        text = str(exc).replace("`$.", "`").replace("`$`", "the top level")
        raise ConfigError(f"invalid config ({origin}): {text}") from None


def load_config(config_file: str | Path | None = None, *, environ: dict[str, str] | None = None) -> Config:
    """Build the effective configuration; raises ConfigError with one clear line."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    origins: list[str] = []
    name = env.get("NBAMCP_ENV", "default") or "default"
    if name not in ENVIRONMENTS:
        raise ConfigError(f"NBAMCP_ENV={name!r} is not one of {', '.join(ENVIRONMENTS)}")
    files = [CONFIG_DIR / "default.toml"] if (CONFIG_DIR / "default.toml").exists() else []
    if name != "default":
        files.append(CONFIG_DIR / f"{name}.toml")
    extra = config_file or env.get("NBAMCP_CONFIG")
    if extra:
        files.append(Path(extra))
    for path in files:
        layer = _read_toml(path)
        _decode(layer, str(path))  # reject bad keys with the file that has them
        raw = _merge(raw, layer)
        origins.append(str(path))
    raw["env"] = name
    overrides = {
        "NBAMCP_HOME": ("paths", "home"),
        "NBAMCP_DATA_DIR": ("paths", "data_dir"),
        "NBAMCP_BUS_URL": ("bus", "url"),
        "NBAMCP_LOG_LEVEL": ("log", "level"),
    }
    for var, (section, key) in overrides.items():
        if env.get(var):
            raw.setdefault(section, {})[key] = env[var]
            origins.append(var)
    return _decode(raw, " + ".join(origins) or "defaults")
