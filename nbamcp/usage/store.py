"""The usage counters' storage: SQLite (``SqliteUsageStore``) and its in-memory twin (``memory.py``).

One row per (UTC hour, tenant, key, tool) holding sums; a batch is stored in one
transaction together with its id, so a batch sent twice (a lost reply, a retry)
counts once. Both stores pass ``tests/usage/test_store.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import aiosqlite

from nbamcp.messages import ToolUsage, UsageDelta
from nbamcp.sqlite import open_db, scalar, scripts, transaction
from nbamcp.usage.memory import MemoryUsageStore

__all__ = ["MemoryUsageStore", "SqliteUsageStore", "UsageStore"]

MIGRATIONS = (
    """
    CREATE TABLE usage (
        hour TEXT NOT NULL,          -- UTC, YYYY-MM-DDTHH
        tenant TEXT NOT NULL,
        key_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        calls INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        units INTEGER NOT NULL,
        games INTEGER NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (hour, tenant, key_id, tool)
    );
    CREATE TABLE batches (id TEXT PRIMARY KEY, stored_at REAL NOT NULL);
    CREATE INDEX batches_stored_at ON batches (stored_at);
    """,
)
BATCH_IDS_KEPT_S = 2 * 86400.0
_UPSERT = """
INSERT INTO usage (hour, tenant, key_id, tool, calls, errors, units, games, seconds)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hour, tenant, key_id, tool) DO UPDATE SET
    calls = calls + excluded.calls, errors = errors + excluded.errors, units = units + excluded.units,
    games = games + excluded.games, seconds = seconds + excluded.seconds
"""
_REPORT = (
    "SELECT tenant, tool, SUM(calls), SUM(errors), SUM(units), SUM(games), SUM(seconds) FROM usage "
    "WHERE hour >= ? AND (? IS NULL OR tenant = ?) GROUP BY tenant, tool ORDER BY tenant, tool"
)


class UsageStore(Protocol):
    async def add(self, batch_id: str, deltas: Iterable[UsageDelta]) -> bool:
        """Store a batch; False when that batch id was stored before (nothing added)."""
        ...

    async def report(self, tenant: str | None, since_hour: str) -> list[ToolUsage]: ...

    async def key_units(self, day: str) -> dict[str, int]: ...

    async def close(self) -> None: ...


class SqliteUsageStore:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    async def open(cls, path: Path) -> SqliteUsageStore:
        return cls(await open_db(path, scripts(*MIGRATIONS), what="usage counters"), path)

    async def add(self, batch_id: str, deltas: Iterable[UsageDelta]) -> bool:
        rows = [
            (d.hour, d.tenant, d.key_id, d.tool, d.calls, d.errors, d.units, d.games, d.seconds)
            for d in deltas
        ]
        async with transaction(self._conn):
            seen = await scalar(self._conn, "SELECT 1 FROM batches WHERE id = ?", (batch_id,))
            if seen:
                return False
            now = time.time()
            await self._conn.execute("INSERT INTO batches (id, stored_at) VALUES (?, ?)", (batch_id, now))
            await self._conn.executemany(_UPSERT, rows)
            # A batch is retried within seconds: its id needs keeping for a while, not forever.
            await self._conn.execute("DELETE FROM batches WHERE stored_at < ?", (now - BATCH_IDS_KEPT_S,))
        return True

    async def report(self, tenant: str | None, since_hour: str) -> list[ToolUsage]:
        async with self._conn.execute(_REPORT, (since_hour, tenant, tenant)) as cur:
            rows = await cur.fetchall()
        return [
            ToolUsage(tenant=t, tool=tool, calls=c, errors=e, units=u, games=g, seconds=round(s, 6))
            for t, tool, c, e, u, g, s in rows
        ]

    async def key_units(self, day: str) -> dict[str, int]:
        sql = "SELECT key_id, SUM(units) FROM usage WHERE hour >= ? AND hour < ? GROUP BY key_id"
        async with self._conn.execute(sql, (f"{day}T00", f"{day}T99")) as cur:
            return {k: int(u) for k, u in await cur.fetchall()}

    async def close(self) -> None:
        await self._conn.close()
