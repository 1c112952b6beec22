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


# Rows per multi-row INSERT (and 5x as many ids per look-up): well under SQLite's variable limit
# (32,766 by default since 3.32), and statements short enough to compile in microseconds.
_ROWS = 500
_COLUMNS = 5
_ROW = "(?, ?, ?, ?, ?)"


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

        A handful of statements per group, not two per event: sqlite3 lets go of the GIL around
        every step, and while the event loop's thread is busy each step waits up to the switch
        interval (Python's default 5 ms; ``[workers] switch_interval_ms``) to take it back.
        Per-event look-ups and inserts went from ~10 µs to 1-1.7 ms each that way, and the writer
        fell behind for good (docs/benchmarks.md).
        """
        conn = self.conn
        assert conn is not None
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = self._append(conn, appends, now)
            if floors:
                conn.executemany(
                    "INSERT INTO consumers (name, filter, ack_floor, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET filter = excluded.filter, "
                    "ack_floor = excluded.ack_floor, updated_at = excluded.updated_at",
                    [(name, filter, floor, now) for name, filter, floor in floors],
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

    def _append(
        self, conn: sqlite3.Connection, appends: list[tuple[str, bytes, bytes | None, str | None]], now: float
    ) -> list[tuple[int, bool]]:
        """Inside the transaction: the msg ids already stored in one look-up, the new events in
        multi-row inserts. Sequence numbers come out consecutive: AUTOINCREMENT gives each row one
        more than the last, rows go in in order, and BEGIN IMMEDIATE keeps every other writer out."""
        ids = list(dict.fromkeys(m for *_, m in appends if m))
        known: dict[str, int] = {}
        for i in range(0, len(ids), _ROWS * _COLUMNS):
            part = ids[i : i + _ROWS * _COLUMNS]
            sql = f"SELECT msg_id, seq FROM events WHERE msg_id IN ({','.join('?' * len(part))})"
            known.update(conn.execute(sql, part).fetchall())
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        seq = int(row[0]) if row else 0
        out: list[tuple[int, bool]] = []
        rows: list[Any] = []
        for subject, data, headers, msg_id in appends:
            if msg_id:
                dup = known.get(msg_id)
                if dup is not None:  # stored before, or earlier in this group
                    out.append((dup, True))
                    continue
            seq += 1
            if msg_id:
                known[msg_id] = seq
            rows.append((subject, data, headers, msg_id, now))
            out.append((seq, False))
        for i in range(0, len(rows), _ROWS):
            part = rows[i : i + _ROWS]
            values = ",".join([_ROW] * len(part))
            sql = f"INSERT INTO events (subject, data, headers, msg_id, ts) VALUES {values}"
            last = conn.execute(sql, [v for r in part for v in r]).lastrowid
            if last != seq - len(rows) + i + len(part):  # never seen: refuse rather than misnumber
                raise sqlite3.DatabaseError(f"the outbox's sequence numbers are not consecutive (got {last})")
        return out

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
