"""The alerts worker's store of recent alerts (``alerts.sqlite`` in its home), deduplicated.

``add`` keeps ONE row per condition key per dedupe window: an alert whose key has a row raised
less than ``window_s`` before it is folded into that row (``repeats`` + 1, ``last_seen``), and
``add`` returns None, so only the first of a window reaches the webhook. The window is measured
on the alerts' own ``raised_at`` (not on arrival), so a replayed stream deduplicates the same way;
the same alert delivered twice (at least once delivery: the window's first or latest one again)
is not even a repeat. The newest
``keep`` alerts are kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import aiosqlite
import msgspec

from nbamcp.errors import InvalidInput
from nbamcp.messages import Alert, StoredAlert
from nbamcp.messages.alerts import SEVERITIES
from nbamcp.sqlite import open_db, scalar, scripts, transaction

MIGRATIONS = (
    """
    CREATE TABLE alerts (
        alert_id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        severity TEXT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        raised_ts REAL NOT NULL,
        numbers TEXT NOT NULL,
        subjects TEXT NOT NULL,
        repeats INTEGER NOT NULL DEFAULT 0,
        last_seen TEXT NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX alerts_key ON alerts (key, raised_ts);
    CREATE INDEX alerts_ts ON alerts (raised_ts);
    """,
)
_COLS = "alert_id, key, severity, source, reason, raised_at, numbers, subjects, repeats, last_seen, delivered"
_numbers = msgspec.json.Decoder(dict[str, float])
_subjects = msgspec.json.Decoder(list[str])


def timestamp(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (a date alone is its midnight UTC)."""
    try:
        t = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 time (e.g. 2023-01-31 or 2023-01-31T12:00:00Z)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _row(r: tuple) -> StoredAlert:
    aid, key, sev, src, reason, at, numbers, subjects, repeats, last, delivered = r
    return StoredAlert(
        alert_id=aid, key=key, severity=sev, source=src, reason=reason, raised_at=at,
        numbers=_numbers.decode(numbers), subjects=_subjects.decode(subjects), repeats=repeats,
        last_seen=last, delivered=bool(delivered),
    )  # fmt: skip


class AlertBook:
    def __init__(self, conn: aiosqlite.Connection, path: Path, *, window_s: float, keep: int) -> None:
        self._conn = conn
        self.path = path
        self.window_s = window_s
        self.keep = keep
        # One connection, many coroutines (the bus's alerts, the webhook's marks): a second
        # BEGIN on it while a transaction is open fails, so writes take turns.
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, window_s: float, keep: int) -> AlertBook:
        return cls(
            await open_db(path, scripts(*MIGRATIONS), what="alert store"), path, window_s=window_s, keep=keep
        )

    async def add(self, alert: Alert) -> StoredAlert | None:
        """Store ``alert``; None when it folds into an alert of its key inside the window."""
        ts = timestamp(alert.raised_at)
        async with self._writing, transaction(self._conn):
            async with self._conn.execute(
                "SELECT alert_id, raised_at, last_seen FROM alerts WHERE key = ? AND raised_ts > ? "
                "AND raised_ts <= ? ORDER BY raised_ts DESC LIMIT 1",
                (alert.key, ts - self.window_s, ts),
            ) as cur:
                found = await cur.fetchone()
            if found is not None:
                aid, first, last = found
                # The first or the latest of the window delivered again (at least once): no repeat.
                if alert.raised_at not in (first, last):
                    await self._conn.execute(
                        "UPDATE alerts SET repeats = repeats + 1, last_seen = max(last_seen, ?) "
                        "WHERE alert_id = ?",
                        (alert.raised_at, aid),
                    )
                return None
            cur2 = await self._conn.execute(
                "INSERT INTO alerts (key, severity, source, reason, raised_at, raised_ts, numbers, subjects, "
                "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (alert.key, alert.severity, alert.source, alert.reason, alert.raised_at, ts,
                 msgspec.json.encode(alert.numbers).decode(), msgspec.json.encode(alert.subjects).decode(),
                 alert.raised_at),
            )  # fmt: skip
            aid = int(cur2.lastrowid or 0)
            await self._conn.execute(
                "DELETE FROM alerts WHERE alert_id <= (SELECT alert_id FROM alerts ORDER BY alert_id DESC "
                "LIMIT 1 OFFSET ?)",
                (self.keep,),
            )
        return await self.get(aid)

    async def get(self, alert_id: int) -> StoredAlert | None:
        async with self._conn.execute(f"SELECT {_COLS} FROM alerts WHERE alert_id = ?", (alert_id,)) as cur:
            r = await cur.fetchone()
        return None if r is None else _row(tuple(r))

    async def recent(
        self, *, since: str | None = None, severity: str | None = None, limit: int = 100
    ) -> tuple[list[StoredAlert], int]:
        """Newest first (at most ``limit``), and how many match."""
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if since is not None:
            where.append("raised_ts >= ?")
            args.append(timestamp(since))
        if severity is not None:
            levels = SEVERITIES[SEVERITIES.index(severity) :]
            where.append(f"severity IN ({', '.join('?' * len(levels))})")
            args.extend(levels)
        cond = " AND ".join(where)
        n = await scalar(self._conn, f"SELECT count(*) FROM alerts WHERE {cond}", args)
        total = int(n) if isinstance(n, int) else 0
        async with self._conn.execute(
            f"SELECT {_COLS} FROM alerts WHERE {cond} ORDER BY raised_ts DESC, alert_id DESC LIMIT ?",
            (*args, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_row(tuple(r)) for r in rows], total

    async def undelivered(self) -> list[StoredAlert]:
        """Alerts the webhook has not taken yet, oldest first (sent again after a restart)."""
        async with self._conn.execute(
            f"SELECT {_COLS} FROM alerts WHERE delivered = 0 ORDER BY alert_id"
        ) as cur:
            return [_row(tuple(r)) for r in await cur.fetchall()]

    async def mark_delivered(self, alert_id: int) -> None:
        async with self._writing, transaction(self._conn):
            await self._conn.execute("UPDATE alerts SET delivered = 1 WHERE alert_id = ?", (alert_id,))

    async def close(self) -> None:
        await self._conn.close()
