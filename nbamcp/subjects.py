"""Bus subjects: the one list of who talks where (see docs/architecture.md)."""

from __future__ import annotations

HEALTH = "nba.health"  # scatter-gather, every worker instance answers; nba.health.<worker> for one kind

STATS_PREFIX = "nba.stats"  # nba.stats.<query>, request/reply, queue "stats"


def stats(query: str) -> str:
    return f"{STATS_PREFIX}.{query}"


PREDICT = "nba.predict"  # request/reply, queue "inference"
EVENTS_PREDICTION = "nba.events.prediction"  # event, durable: predlog, monitor, cache fill
EVENTS_GAMES = "nba.events.games"  # event, durable: new results -> features, feedback, cache
MODELS_CHANGED = "nba.models.changed"  # event: inference reload, cache invalidation
TRAIN_JOBS = "nba.train.jobs"  # durable work queue
TRAIN_PROGRESS = "nba.train.progress"  # nba.train.progress.<job>
MONITOR_PREFIX = "nba.monitor"  # nba.monitor.<query>, request/reply
ALERTS = "nba.alerts"  # event
