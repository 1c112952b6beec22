"""The monitor's windows over its own file: served feature rows, probabilities and outcomes.

Read-only queries on the ``OutcomeBook``'s connection, each game counted once per model version
(its latest prediction, the rule of the realized metrics). What they return is plain arrays for
``nbamcp.monitoring``; every query is bounded (a window is capped, losses come in pages).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite
import msgspec
import numpy as np

_DECODE = msgspec.msgpack.Decoder(list[float])

# The latest prediction of each game by one model version, with its features and outcome (if any).
_WINDOW = """
WITH latest AS (
    SELECT p.id, p.date, p.home_win_prob, p.features, o.home_win,
           ROW_NUMBER() OVER (PARTITION BY p.date, p.home, p.away ORDER BY p.ts DESC, p.id DESC) AS rn
    FROM predictions p LEFT JOIN outcomes o ON o.prediction_id = p.id
    WHERE p.model_name = ?1 AND p.model_version = ?2 AND p.source = 'model' AND p.feature_set = ?3
      AND p.features IS NOT NULL
      AND (?5 IS NULL OR p.date >= (
          SELECT date(MAX(date), '-' || ?5 || ' days') FROM predictions
          WHERE model_name = ?1 AND model_version = ?2 AND features IS NOT NULL))
)
SELECT date, home_win_prob, features, home_win FROM latest WHERE rn = 1
ORDER BY date DESC, id DESC LIMIT ?4
"""

# Realized per-game losses of one version stamped after ``after``, in game-date order.
_LOSSES = """
WITH scored AS (
    SELECT p.date, o.game_id, o.brier, o.resolved_at,
           ROW_NUMBER() OVER (PARTITION BY o.game_id ORDER BY p.ts DESC, p.id DESC) AS rn
    FROM predictions p JOIN outcomes o ON o.prediction_id = p.id
    WHERE p.model_name = ?1 AND p.model_version = ?2 AND p.source = 'model' AND o.resolved_at > ?3
)
SELECT date, brier, resolved_at FROM scored WHERE rn = 1 ORDER BY resolved_at, date, game_id LIMIT ?4
"""

# Every realized game of one version (from ``since``): its latest prediction and the outcome.
_SCORED = """
WITH scored AS (
    SELECT p.date, p.home_win_prob, o.home_win,
           ROW_NUMBER() OVER (PARTITION BY o.game_id ORDER BY p.ts DESC, p.id DESC) AS rn
    FROM predictions p JOIN outcomes o ON o.prediction_id = p.id
    WHERE p.model_name = ?1 AND p.model_version = ?2 AND p.source = 'model' AND (?3 IS NULL OR p.date >= ?3)
      AND (?5 IS NULL OR p.shadow = ?5)
)
SELECT date, home_win_prob, home_win FROM scored WHERE rn = 1 ORDER BY date LIMIT ?4
"""


@dataclass(frozen=True, slots=True)
class Window:
    """The latest games of a window, oldest first."""

    dates: list[str]
    probs: np.ndarray  # P(home win) served
    X: np.ndarray  # rows x features, NaN = missing
    outcome: np.ndarray  # 1 / 0 home win, NaN: no result yet

    @property
    def n(self) -> int:
        return len(self.dates)


async def window(
    conn: aiosqlite.Connection, *, model_name: str, version: int, feature_set: str, width: int,
    n: int, days: int | None,
) -> Window:  # fmt: skip
    """The latest ``n`` games (within ``days`` of the latest game date, when given) whose served
    feature vectors of ``feature_set`` have ``width`` values; vectors of another width are skipped."""
    async with conn.execute(_WINDOW, (model_name, version, feature_set, n, days)) as cur:
        rows = list(await cur.fetchall())
    rows.reverse()
    kept = [(d, p, _DECODE.decode(f), w) for d, p, f, w in rows]
    kept = [r for r in kept if len(r[2]) == width]
    return Window(
        dates=[r[0] for r in kept],
        probs=np.array([r[1] for r in kept], dtype=np.float64),
        X=np.array([r[2] for r in kept], dtype=np.float64).reshape(len(kept), width),
        outcome=np.array([np.nan if r[3] is None else r[3] for r in kept], dtype=np.float64),
    )


async def losses_after(
    conn: aiosqlite.Connection, *, model_name: str, version: int, after: float, limit: int
) -> list[tuple[str, float, float]]:
    """(game date, Brier, resolved_at) of the version's games realized after ``after``, at most ``limit``."""
    async with conn.execute(_LOSSES, (model_name, version, after, limit)) as cur:
        return [(str(d), float(b), float(t)) for d, b, t in await cur.fetchall()]


async def scored(
    conn: aiosqlite.Connection,
    *,
    model_name: str,
    version: int,
    since: str | None,
    limit: int,
    shadow: bool | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(game dates, probabilities, outcomes) of the version's realized games, oldest first;
    ``shadow`` True / False: only the games it was scored on beside another answer / it answered."""
    flag = None if shadow is None else int(shadow)
    async with conn.execute(_SCORED, (model_name, version, since, limit, flag)) as cur:
        rows = list(await cur.fetchall())
    return (
        [str(r[0]) for r in rows],
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.float64),
    )


async def latest_version(conn: aiosqlite.Connection, model_name: str) -> int | None:
    """The highest version of ``model_name`` that served a prediction (when the registry is out of reach)."""
    sql = "SELECT MAX(model_version) FROM predictions WHERE model_name = ? AND source = 'model'"
    async with conn.execute(sql, (model_name,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None
