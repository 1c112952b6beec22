"""Bus subjects: the one list of who talks where (see docs/architecture.md)."""

from __future__ import annotations

HEALTH = "nba.health"  # scatter-gather, every worker instance answers; nba.health.<worker> for one kind

# Scatter-gather: every worker instance backs up its own home (in process, one of them: one home).
OPS_BACKUP = "nba.ops.backup"

STATS_PREFIX = "nba.stats"  # nba.stats.<query>, request/reply, queue "stats"


def stats(query: str) -> str:
    return f"{STATS_PREFIX}.{query}"


PREDICT = "nba.predict"  # request/reply, queue "inference"
PREDICT_LOOKUP = "nba.predict.lookup"  # request/reply, queue "cache": cached predictions
PREDICT_BASELINE = "nba.predict.baseline"  # request/reply, queue "cache": Elo baseline, no model needed
PREDICT_SERVED = "nba.predict.served"  # event, queue "cache": fresh model predictions to cache
EVENTS_PREDICTION = "nba.events.prediction"  # event, durable: predlog, monitor, cache fill
EVENTS_GAMES = "nba.events.games"  # event, durable: new results -> features, feedback, cache
# Alerts (severity, condition key, reason, numbers): durable, so under nba.events (the one durable
# stream captures nba.events.>); the alerts worker stores them and feeds the webhook.
EVENTS_ALERTS = "nba.events.alerts"
EVENTS_ALL = "nba.events.>"  # what the durable stream (JetStream NBA_EVENTS / SQLite outbox) captures
MODELS_CHANGED = "nba.models.changed"  # event: inference reload, cache invalidation
COVERAGE_CHANGED = "nba.coverage.changed"  # event (broadcast): what the store holds, after every ingest
TRAIN_JOBS = "nba.train.jobs"  # request/reply, queue "trainer": start a job, reply with its id
TRAIN_PROGRESS = "nba.train.progress"  # nba.train.progress.<job>
INGEST_PROGRESS = "nba.ingest.progress"  # nba.ingest.progress.<token>: an ingest_games call's files
MONITOR_STATUS = "nba.monitor.status"  # request/reply, queue "monitor": champion/challenger, realized metrics
MONITOR_REPORT = "nba.monitor.report"  # request/reply, queue "monitor": realized metrics by date, calibration
MONITOR_DRIFT = "nba.monitor.drift"  # request/reply, queue "monitor": feature/prediction/concept drift report
MONITOR_CALIBRATION = "nba.monitor.calibration"  # request/reply, queue "monitor": reliability, ECE, Brier
ALERTS_LIST = "nba.alerts.list"  # request/reply, queue "alerts": the stored alerts (deduped)
# Usage per tenant and tool (usage worker): record batches, report, units per key of a day.
USAGE_RECORD = "nba.usage.record"
USAGE_REPORT = "nba.usage.report"
USAGE_KEY_UNITS = "nba.usage.key_units"

# Training and registry (trainer worker).
TRAIN_CONTROL = "nba.train.control"  # nba.train.control.<job>: cancel / status, answered by the job's owner
MODELS_LIST = "nba.models.list"  # request/reply, queue "trainer"
MODELS_PROMOTE = "nba.models.promote"  # request/reply, queue "trainer"; publishes nba.models.changed
MODELS_CARD = "nba.models.card"  # request/reply, queue "trainer": the model card behind nba://models/...
MODELS_SERVING = "nba.models.serving"  # request/reply, queue "trainer": aliases + artifacts to serve

# Automated retraining (trainer) and its gate's input (monitor).
EVENTS_RETRAIN = "nba.events.retrain"  # event, durable: RetrainTrigger (drift alarms, ...) -> trainer
TRAIN_QUEUE = "nba.train.queue"  # durable work queue (JetStream NBA_TRAIN / SQLite): RetrainJob
RETRAINING_STATUS = "nba.train.retraining"  # request/reply, queue "trainer": triggers, jobs, gate, audit
MONITOR_PAIRED = "nba.monitor.paired"  # request/reply, queue "monitor": per-game losses of two versions


def train_progress(job_id: str) -> str:
    return f"{TRAIN_PROGRESS}.{job_id}"


def train_control(job_id: str) -> str:
    return f"{TRAIN_CONTROL}.{job_id}"
