"""The prediction log: every served prediction, one row each, written in batches.

One row per (request id, model, version, game): a redelivered or retried event
is stored once (``INSERT OR IGNORE`` on that unique key). A batch is one
``executemany`` in one transaction: a killed writer leaves whole batches only.

Exactly what was served: a shadow-scored answer (the challenger in shadow
traffic, the champion beside a canary answer) is marked ``shadow``. The front end
asks the cache worker's baseline only when it got no answer from inference
(timed out, failed), under the same request id; inference may still have scored
and published the slate, but that answer never reached the caller. So a baseline
row of a (request id, game) withdraws that game's model rows of the same request
id, whichever event arrives first (a late or redelivered model event is inserted,
then withdrawn, in the same transaction).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite
import msgspec

from nbamcp.messages import PredictionEvent
from nbamcp.sqlite import count, open_db, scripts, transaction

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        ts REAL NOT NULL,
        model_name TEXT NOT NULL,
        model_version INTEGER NOT NULL,
        source TEXT NOT NULL,
        home TEXT NOT NULL,
        away TEXT NOT NULL,
        date TEXT NOT NULL,
        neutral INTEGER NOT NULL,
        game_id TEXT,
        home_win_prob REAL NOT NULL,
        feature_set TEXT NOT NULL,
        features TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        cached INTEGER NOT NULL,
        client TEXT NOT NULL,
        stream_seq INTEGER,
        logged_at REAL NOT NULL,
        UNIQUE (request_id, model_name, model_version, date, home, away)
    );
    CREATE INDEX predictions_game ON predictions (date, home, away);
    CREATE INDEX predictions_ts ON predictions (ts);
    CREATE INDEX predictions_model ON predictions (model_name, model_version);
    """,
    # 2: the tenant (API key) whose request the prediction answered.
    """
    ALTER TABLE predictions ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
    """,
    # 3: scored beside the served answer, not served (shadow challenger, canary's champion).
    """
    ALTER TABLE predictions ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX predictions_request_game ON predictions (request_id, date, home, away);
    """,
)

COLUMNS = (
    "request_id", "ts", "model_name", "model_version", "source", "home", "away", "date", "neutral",
    "game_id", "home_win_prob", "feature_set", "features", "latency_ms", "cached", "client",
    "stream_seq", "logged_at", "tenant", "shadow",
)  # fmt: skip
_INSERT = f"INSERT OR IGNORE INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
# Model rows of a (request id, game) that also has a baseline row: never returned (see above).
# predictions_request_game makes both the candidates and the EXISTS index look-ups.
_WITHDRAW = """
DELETE FROM predictions
WHERE request_id = ? AND source = 'model' AND EXISTS (
    SELECT 1 FROM predictions b
    WHERE b.request_id = predictions.request_id AND b.source = 'baseline'
      AND b.date = predictions.date AND b.home = predictions.home AND b.away = predictions.away
)
"""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_json = msgspec.json.Encoder()
MAX_FEATURES = 1024
SOURCES = ("model", "baseline")


def event_problem(e: PredictionEvent) -> str | None:
    """Why ``e`` cannot be logged, or None. A bad event is dropped whole, never half-logged."""
    if not e.request_id or len(e.request_id) > 200:
        return "request_id must be 1-200 characters"
    if not e.model_name or len(e.model_name) > 100:
        return "model_name must be 1-100 characters"
    if e.model_version < 0:
        return f"model_version must be >= 0, got {e.model_version}"
    if e.source not in SOURCES:
        return f"source must be one of {', '.join(SOURCES)}, got {e.source!r}"
    if not e.home or not e.away or e.home == e.away:
        return f"home and away must be two different teams, got {e.home!r} and {e.away!r}"
    if not _valid_date(e.date):
        return f"date must be a real YYYY-MM-DD date, got {e.date!r}"
    if not (math.isfinite(e.home_win_prob) and 0.0 <= e.home_win_prob <= 1.0):
        return f"home_win_prob must be a probability in [0, 1], got {e.home_win_prob}"
    if not (math.isfinite(e.ts) and e.ts > 0):
        return f"ts must be unix seconds, got {e.ts}"
    if not (math.isfinite(e.latency_ms) and e.latency_ms >= 0):
        return f"latency_ms must be >= 0, got {e.latency_ms}"
    if len(e.features) > MAX_FEATURES:
        return f"at most {MAX_FEATURES} features, got {len(e.features)}"
    return None


def _valid_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def row(e: PredictionEvent, seq: int | None, logged_at: float) -> tuple[object, ...]:
    return (
        e.request_id, e.ts, e.model_name, e.model_version, e.source, e.home, e.away, e.date,
        int(e.neutral), e.game_id, e.home_win_prob, e.feature_set, _json.encode(e.features).decode(),
        e.latency_ms, int(e.cached), e.client, seq, logged_at, e.tenant, int(e.shadow),
    )  # fmt: skip


class PredictionLog:
    """The log file, owned by one writer (the predlog worker)."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, rows: int) -> None:
        self.conn = conn
        self.path = path
        self.rows = rows  # rows in the table (kept up to date by write())
        self.withdrawn = 0  # model rows removed because the request was answered by the baseline

    @classmethod
    async def open(cls, path: str | Path) -> PredictionLog:
        conn = await open_db(path, scripts(*MIGRATIONS), what="prediction log")
        try:
            rows = await count(conn, "SELECT COUNT(*) FROM predictions")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, Path(path), rows)

    async def write(self, events: Sequence[tuple[PredictionEvent, int | None]]) -> int:
        """Store (event, stream seq) pairs in one transaction; returns how many were new (model rows
        that a baseline answer of the same request withdraws are counted in ``withdrawn``)."""
        if not events:
            return 0
        now = time.time()
        before = self.conn.total_changes
        async with transaction(self.conn) as conn:
            await conn.executemany(_INSERT, [row(e, seq, now) for e, seq in events])
            inserted = self.conn.total_changes - before
            # Every request of the batch (its baseline and model events may come in different
            # batches), in one executemany: one trip to the writer thread, as the insert.
            rids = dict.fromkeys(e.request_id for e, _ in events)
            await conn.executemany(_WITHDRAW, [(rid,) for rid in rids])
            withdrawn = self.conn.total_changes - before - inserted
        self.rows += inserted - withdrawn
        self.withdrawn += withdrawn
        return inserted

    async def write_each(self, events: Sequence[tuple[PredictionEvent, int | None]]) -> int:
        """One transaction per event: the slow path, kept for the benchmark's comparison."""
        inserted = 0
        for e, seq in events:
            inserted += await self.write([(e, seq)])
        return inserted

    async def close(self) -> None:
        await self.conn.close()
