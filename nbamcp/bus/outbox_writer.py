"""The outbox's write side: one sqlite3 connection, used only from its own thread.

``SqliteEvents`` (``nbamcp/bus/durable_sqlite.py``) queues publishes, ack floors and prunes;
its writer task hands each group to :meth:`OutboxWriter.commit` in ONE call into this thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nbamcp.sqlite import open_sync, scripts

_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    data BLOB NOT NULL,
    headers BLOB,
    msg_id TEXT,
    ts REAL NOT NULL
);
CREATE UNIQUE INDEX events_msg_id ON events (msg_id) WHERE msg_id IS NOT NULL;
CREATE INDEX events_ts ON events (ts);
CREATE TABLE consumers (
    name TEXT PRIMARY KEY,
    filter TEXT NOT NULL,
    ack_floor INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""


class OutboxWriter:
    """The write side: one sqlite3 connection, used only from its own thread.

    A group commit is ONE call into that thread (dedup, inserts, floors, prune,
    commit), not a thread hop per statement: that is most of a publish's cost.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="events-writer")
        self.conn: sqlite3.Connection | None = None

    async def call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def open(self) -> int:
        """Connect, migrate; returns the last sequence number ever assigned."""
        conn = self.conn = open_sync(self.path, scripts(_SCHEMA), what="event outbox")
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    def commit(
        self,
        appends: list[tuple[str, bytes, bytes | None, str | None]],
        floors: list[tuple[str, str, int]],
        prune_before: float | None,
    ) -> tuple[list[tuple[int, bool]], float, int | None]:
        """Store events (a known msg_id is not stored again) and floors in one transaction.

        Returns (seq, duplicate) per append, in order; the events' timestamp; and, when pruning,
        the lowest ack floor of every consumer (what was pruned below), else None.
        """
        conn = self.conn
        assert conn is not None
        now = time.time()
        out: list[tuple[int, bool]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            seen: dict[str, int] = {}
            for subject, data, headers, msg_id in appends:
                if msg_id:
                    seq = seen.get(msg_id)
                    if seq is None:
                        row = conn.execute("SELECT seq FROM events WHERE msg_id = ?", (msg_id,)).fetchone()
                        seq = row[0] if row else None
                    if seq is not None:
                        out.append((int(seq), True))
                        continue
                cur = conn.execute(
                    "INSERT INTO events (subject, data, headers, msg_id, ts) VALUES (?, ?, ?, ?, ?)",
                    (subject, data, headers, msg_id, now),
                )
                seq = int(cur.lastrowid or 0)
                if msg_id:
                    seen[msg_id] = seq
                out.append((seq, False))
            for name, filter, floor in floors:
                conn.execute(
                    "INSERT INTO consumers (name, filter, ack_floor, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET filter = excluded.filter, "
                    "ack_floor = excluded.ack_floor, updated_at = excluded.updated_at",
                    (name, filter, floor, now),
                )
            low = None
            if prune_before is not None:
                (low,) = conn.execute("SELECT MIN(ack_floor) FROM consumers").fetchone()
                conn.execute("DELETE FROM events WHERE ts < ? OR seq <= ?", (prune_before, low))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return out, now, low

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
