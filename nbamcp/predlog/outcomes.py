"""The feedback book: predictions awaiting results, and their realized outcomes.

The monitor keeps its own slim copy of each logged prediction (fed by the same
durable stream as the prediction log, in stream order), so that a results event
always finds every prediction published before it, whether or not the log
writer has flushed yet. When results arrive, each waiting prediction of those
games gets its outcome row: who won, and the prediction's Brier, log loss and
pick. Realized metrics aggregate those rows per model version, counting each
game once per version (its latest prediction before the result).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite
import msgspec

from nbamcp.messages import (
    CalibrationBin,
    GameRow,
    PairedGame,
    PredictionEvent,
    RealizedDay,
    RealizedMetrics,
)
from nbamcp.predlog.metrics import score
from nbamcp.sqlite import count, open_db, scripts, transaction

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        model_name TEXT NOT NULL,
        model_version INTEGER NOT NULL,
        source TEXT NOT NULL,
        ts REAL NOT NULL,
        home TEXT NOT NULL,
        away TEXT NOT NULL,
        date TEXT NOT NULL,
        neutral INTEGER NOT NULL,
        game_id TEXT,
        home_win_prob REAL NOT NULL,
        cached INTEGER NOT NULL,
        UNIQUE (request_id, model_name, model_version, date, home, away)
    );
    CREATE INDEX predictions_game ON predictions (date, home, away);
    CREATE TABLE outcomes (
        prediction_id INTEGER PRIMARY KEY REFERENCES predictions (id),
        game_id TEXT NOT NULL,
        home_pts INTEGER NOT NULL,
        away_pts INTEGER NOT NULL,
        home_win INTEGER NOT NULL,
        brier REAL NOT NULL,
        log_loss REAL NOT NULL,
        correct INTEGER NOT NULL,
        resolved_at REAL NOT NULL
    );
    CREATE INDEX outcomes_game ON outcomes (game_id);
    CREATE TABLE results_events (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        date_from TEXT NOT NULL,
        date_to TEXT NOT NULL,
        games INTEGER NOT NULL,
        resolved INTEGER NOT NULL
    );
    """,
    # 2: the served feature vector (msgpack list of floats) for drift checks; only the latest
    # ``drift_max_rows`` keep theirs (``add_predictions(keep_features=)``).
    """
    ALTER TABLE predictions ADD COLUMN feature_set TEXT NOT NULL DEFAULT '';
    ALTER TABLE predictions ADD COLUMN features BLOB;
    CREATE INDEX predictions_version ON predictions (model_name, model_version, date);
    """,
    # 3: scored beside the served answer, not served (PredictionEvent.shadow): which model
    # answered each game in canary and ab traffic (the A/B arms).
    """
    ALTER TABLE predictions ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;
    """,
)

MAX_FEATURES = 256  # a longer vector is not kept (no feature set has more than a few dozen)

_INSERT_PREDICTION = (
    "INSERT OR IGNORE INTO predictions (request_id, model_name, model_version, source, ts, home, away, "
    "date, neutral, game_id, home_win_prob, cached, feature_set, features, shadow) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# From the last bound on: each row is visited once, however large the file grows.
_DROP_FEATURES = "UPDATE predictions SET features = NULL WHERE id > ? AND id <= ? AND features IS NOT NULL"
_REALIZED = """
WITH scored AS (
    SELECT p.model_name, p.model_version, p.source, p.date, o.game_id, o.brier, o.log_loss, o.correct,
           ROW_NUMBER() OVER (
               PARTITION BY p.model_name, p.model_version, p.source, o.game_id
               ORDER BY p.ts DESC, p.id DESC
           ) AS rn,
           COUNT(*) OVER (PARTITION BY p.model_name, p.model_version, p.source) AS n_predictions
    FROM predictions p JOIN outcomes o ON o.prediction_id = p.id
)
SELECT model_name, model_version, source, COUNT(*), MAX(n_predictions), AVG(correct), AVG(brier),
       AVG(log_loss), MIN(date), MAX(date)
FROM scored WHERE rn = 1
GROUP BY model_name, model_version, source
ORDER BY model_name, model_version DESC, source
"""


# The latest prediction of each game per model version, scored (the same rule as _REALIZED).
_SCORED = """
WITH scored AS (
    SELECT p.model_name, p.model_version, p.source, p.date, p.home_win_prob, o.home_win, o.brier,
           o.log_loss, o.correct,
           ROW_NUMBER() OVER (
               PARTITION BY p.model_name, p.model_version, p.source, o.game_id
               ORDER BY p.ts DESC, p.id DESC
           ) AS rn
    FROM predictions p JOIN outcomes o ON o.prediction_id = p.id
    WHERE (?1 IS NULL OR p.model_name = ?1)
      AND p.date >= (SELECT date(MAX(date), '-' || ?2 || ' days') FROM predictions)
)
"""
_BY_DATE = (
    _SCORED
    + """SELECT model_name, model_version, source, date, COUNT(*), AVG(brier), AVG(log_loss), AVG(correct)
FROM scored WHERE rn = 1 GROUP BY model_name, model_version, source, date
ORDER BY model_name, model_version, source, date"""
)
_CALIBRATION = (
    _SCORED
    + """SELECT model_name, model_version, source, MIN(CAST(home_win_prob * ?3 AS INTEGER), ?3 - 1) AS bin,
       COUNT(*), AVG(home_win_prob), AVG(home_win)
FROM scored WHERE rn = 1 GROUP BY model_name, model_version, source, bin
ORDER BY model_name, model_version, source, bin"""
)


# Both versions' latest prediction of each realized game (the same rule as _REALIZED), paired,
# with which of the two answered the caller (the other row is marked shadow).
_PAIRED = """
WITH scored AS (
    SELECT p.model_version, p.date, o.game_id, o.log_loss, p.shadow,
           ROW_NUMBER() OVER (
               PARTITION BY p.model_version, o.game_id ORDER BY p.ts DESC, p.id DESC
           ) AS rn
    FROM predictions p JOIN outcomes o ON o.prediction_id = p.id
    WHERE p.model_name = ?1 AND p.source = 'model' AND p.model_version IN (?2, ?3)
)
SELECT a.game_id, a.date, a.log_loss, b.log_loss,
       CASE WHEN a.shadow = 0 AND b.shadow = 1 THEN 'a' WHEN b.shadow = 0 AND a.shadow = 1 THEN 'b'
            ELSE '' END
FROM scored a JOIN scored b ON b.game_id = a.game_id AND b.model_version = ?3 AND b.rn = 1
WHERE a.model_version = ?2 AND a.rn = 1
ORDER BY a.date DESC, a.game_id DESC LIMIT ?4
"""


class OutcomeBook:
    """The monitor's file (``config.monitor_path``); the monitor is its only writer."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, top: int = 0) -> None:
        self.conn = conn
        self.path = path
        self._pruned_to = 0  # predictions up to this id have had their features dropped
        # The highest prediction id. The monitor is the only writer and never deletes a prediction,
        # so a new row's id is the highest + 1 (no AUTOINCREMENT): counting inserts keeps it exact
        # without a SELECT per batch (each statement is a trip to aiosqlite's thread).
        self._top = top

    @classmethod
    async def open(cls, path: str | Path) -> OutcomeBook:
        conn = await open_db(path, scripts(*MIGRATIONS), what="monitor database")
        try:
            top = await count(conn, "SELECT COALESCE(MAX(id), 0) FROM predictions")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, Path(path), top)

    async def add_predictions(
        self, events: Sequence[PredictionEvent], *, keep_features: int | None = None
    ) -> int:
        """Record predictions (a redelivered one is stored once); returns how many were new.

        ``keep_features``: in the same transaction, drop the feature vectors of all but the latest
        that many predictions (the drift windows' bound): one commit per batch of the monitor, and
        no look-up of the highest id.
        """
        if not events:
            return 0
        before = self.conn.total_changes
        async with transaction(self.conn) as conn:
            await conn.executemany(
                _INSERT_PREDICTION,
                [
                    (e.request_id, e.model_name, e.model_version, e.source, e.ts, e.home, e.away, e.date,
                     int(e.neutral), e.game_id, e.home_win_prob, int(e.cached), e.feature_set,
                     _features(e.features), int(e.shadow))
                    for e in events
                ],
            )  # fmt: skip
            inserted = self.conn.total_changes - before
            top = self._top + inserted
            bound = top - keep_features if keep_features is not None else 0
            if bound > self._pruned_to:
                await conn.execute(_DROP_FEATURES, (self._pruned_to, bound))
        self._top = top
        self._pruned_to = max(self._pruned_to, bound)
        return inserted

    async def resolve(self, games: Sequence[GameRow], *, date_from: str, date_to: str) -> int:
        """Join waiting predictions with these results; returns how many were resolved.

        A prediction matches its game by ``game_id`` when it carried one, else by
        (date, home, away); a neutral-site game also matches with the teams
        swapped. Of a doubleheader's two games, the first takes the prediction.
        """
        now = time.time()
        rows: list[tuple[object, ...]] = []
        if games:
            by_id = {g.game_id: g for g in games}
            by_key: dict[tuple[str, str, str], GameRow] = {}
            for g in sorted(games, key=lambda g: g.game_id, reverse=True):
                by_key[(g.date, g.home, g.away)] = g  # the first of a doubleheader wins
            lo = min(g.date for g in games)
            hi = max(g.date for g in games)
            sql = (
                "SELECT p.id, p.game_id, p.date, p.home, p.away, p.neutral, p.home_win_prob "
                "FROM predictions p LEFT JOIN outcomes o ON o.prediction_id = p.id "
                "WHERE o.prediction_id IS NULL AND p.date BETWEEN ? AND ?"
            )
            async with self.conn.execute(sql, (lo, hi)) as cur:
                waiting = list(await cur.fetchall())
            for pid, gid, date, home, away, neutral, prob in waiting:
                match = _match(by_id, by_key, gid, date, home, away, bool(neutral))
                if match is None:
                    continue
                g, swapped = match
                home_pts, away_pts = (g.away_pts, g.home_pts) if swapped else (g.home_pts, g.away_pts)
                if home_pts == away_pts:
                    continue  # no winner recorded: nothing to score
                brier, log_loss, correct = score(float(prob), home_pts > away_pts)
                rows.append(
                    (pid, g.game_id, home_pts, away_pts, int(home_pts > away_pts), brier, log_loss,
                     int(correct), now)
                )  # fmt: skip
        before = self.conn.total_changes
        async with transaction(self.conn) as conn:
            await conn.executemany("INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            resolved = self.conn.total_changes - before
            await conn.execute(
                "INSERT INTO results_events (received_at, date_from, date_to, games, resolved) "
                "VALUES (?, ?, ?, ?, ?)",
                (now, date_from, date_to, len(games), resolved),
            )
        return resolved

    async def realized(self, model_name: str | None = None) -> list[RealizedMetrics]:
        async with self.conn.execute(_REALIZED) as cur:
            rows = list(await cur.fetchall())
        return [
            RealizedMetrics(
                model_name=name,
                model_version=int(version),
                source=source,
                role="",
                n_games=int(n_games),
                n_predictions=int(n_pred),
                accuracy=round(acc, 4),
                brier=round(brier, 4),
                log_loss=round(ll, 4),
                first_game=first,
                last_game=last,
            )
            for name, version, source, n_games, n_pred, acc, brier, ll, first, last in rows
            if model_name is None or name == model_name
        ]

    async def by_date(self, model_name: str | None, days: int) -> list[RealizedDay]:
        """Realized scores per model version and game date, over the latest ``days`` of dates."""
        async with self.conn.execute(_BY_DATE, (model_name, days)) as cur:
            rows = list(await cur.fetchall())
        return [
            RealizedDay(
                model_name=name,
                model_version=int(version),
                source=source,
                date=date,
                n_games=int(n),
                brier=round(brier, 5),
                log_loss=round(ll, 5),
                accuracy=round(acc, 5),
            )
            for name, version, source, date, n, brier, ll, acc in rows
        ]

    async def calibration(self, model_name: str | None, days: int, bins: int = 10) -> list[CalibrationBin]:
        """Realized games per predicted-probability bin: how often the home team won in each."""
        async with self.conn.execute(_CALIBRATION, (model_name, days, bins)) as cur:
            rows = list(await cur.fetchall())
        return [
            CalibrationBin(
                model_name=name,
                model_version=int(version),
                source=source,
                lo=b / bins,
                hi=(b + 1) / bins,
                n_games=int(n),
                mean_predicted=round(mean, 5),
                observed=round(obs, 5),
            )
            for name, version, source, b, n, mean, obs in rows
        ]

    async def paired(self, model_name: str, a: int, b: int, limit: int) -> list[PairedGame]:
        """Per realized game both versions predicted, each one's log loss: the latest ``limit``
        games, oldest first."""
        async with self.conn.execute(_PAIRED, (model_name, a, b, limit)) as cur:
            rows = list(await cur.fetchall())
        return [PairedGame(gid, date, la, lb, served) for gid, date, la, lb, served in reversed(rows)]

    async def pending(self) -> int:
        return await count(
            self.conn,
            "SELECT COUNT(*) FROM predictions p WHERE NOT EXISTS "
            "(SELECT 1 FROM outcomes o WHERE o.prediction_id = p.id)",
        )

    async def predictions(self) -> int:
        return await count(self.conn, "SELECT COUNT(*) FROM predictions")

    async def results_summary(self) -> tuple[int, str | None]:
        """(results events handled, "from..to" of the latest one)."""
        latest = "SELECT date_from || '..' || date_to FROM results_events ORDER BY id DESC LIMIT 1"
        async with self.conn.execute(f"SELECT COUNT(*), ({latest}) FROM results_events") as cur:
            row = await cur.fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    async def close(self) -> None:
        await self.conn.close()


def _features(values: Sequence[float]) -> bytes | None:
    return msgspec.msgpack.encode(list(values)) if 0 < len(values) <= MAX_FEATURES else None


def _match(
    by_id: dict[str, GameRow],
    by_key: dict[tuple[str, str, str], GameRow],
    game_id: str | None,
    date: str,
    home: str,
    away: str,
    neutral: bool,
) -> tuple[GameRow, bool] | None:
    """The game a prediction was about, and whether the store has its teams the other way round."""
    if game_id:
        g = by_id.get(game_id)
        if g is None:
            return None
        return g, g.home != home
    g = by_key.get((date, home, away))
    if g is not None:
        return g, False
    g = by_key.get((date, away, home))
    if g is not None and (g.neutral or neutral):
        return g, True
    return None
