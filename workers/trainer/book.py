"""The trainer's record of retraining: triggers, jobs and gate decisions (``retrain.sqlite``).

The trainer is its only writer. Recording a trigger and deciding whether it opens a job
is one transaction: a trigger that arrives while a job of its model is queued or running
joins that job ("coalesced"), so a storm of triggers makes one job. A trigger id seen
before is not recorded again (a redelivered or re-sent alarm).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from nbamcp.messages import GateDecision, JobRecord, RetrainTrigger, TriggerRecord
from nbamcp.sqlite import open_db, scalar, scripts, transaction

OPEN_STATES = ("queued", "running")

_MIGRATIONS = (
    """
    CREATE TABLE triggers (
        trigger_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT NOT NULL,
        metrics TEXT NOT NULL,
        ts REAL NOT NULL,
        received_at TEXT NOT NULL,
        job_id TEXT,
        outcome TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    CREATE INDEX triggers_by_model ON triggers (model_name, seq);
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        state TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        trigger_id TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        parent_version INTEGER,
        version INTEGER,
        data_hash TEXT NOT NULL DEFAULT '',
        n_games INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        error TEXT NOT NULL DEFAULT '',
        seq INTEGER NOT NULL
    );
    CREATE INDEX jobs_by_model ON jobs (model_name, state, seq);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_name TEXT NOT NULL,
        challenger INTEGER NOT NULL,
        champion INTEGER NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (model_name, challenger, champion)
    );
    CREATE TABLE snapshots (
        model_name TEXT PRIMARY KEY,
        n_games INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    """,
)
_JOB_COLS = (
    "job_id, model_name, state, kind, reason, trigger_id, attempts, parent_version, version, data_hash, "
    "n_games, created_at, started_at, finished_at, error"
)


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class RetrainBook:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        # One connection: write transactions from concurrent tasks must not interleave.
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock, transaction(self.conn) as conn:
            yield conn

    @classmethod
    async def open(cls, path: str | Path) -> RetrainBook:
        return cls(await open_db(path, scripts(*_MIGRATIONS), what="retraining record"))

    async def close(self) -> None:
        await self.conn.close()

    async def _next_seq(self, table: str) -> int:
        return int(str(await scalar(self.conn, f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}") or 1))

    # ---- triggers and jobs ---------------------------------------------------------------------------
    async def record_trigger(self, t: RetrainTrigger, new_job_id: str) -> tuple[JobRecord, bool] | None:
        """Record ``t``: it opens job ``new_job_id`` (True) or joins the open job of its model
        (False). None: this trigger id was recorded before."""
        async with self._tx() as conn:
            if await scalar(conn, "SELECT 1 FROM triggers WHERE trigger_id = ?", (t.trigger_id,)):
                return None
            open_id = await scalar(
                conn,
                "SELECT job_id FROM jobs WHERE model_name = ? AND state IN ('queued', 'running') "
                "ORDER BY seq LIMIT 1",
                (t.model_name,),
            )
            created = open_id is None
            job_id = new_job_id if created else str(open_id)
            at = now()
            if created:
                await conn.execute(
                    "INSERT INTO jobs (job_id, model_name, state, kind, reason, trigger_id, created_at, seq) "
                    "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                    (job_id, t.model_name, t.kind, t.reason, t.trigger_id, at, await self._next_seq("jobs")),
                )
            await conn.execute(
                "INSERT INTO triggers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (t.trigger_id, t.model_name, t.kind, t.reason, t.source, _json(t.metrics), t.ts, at, job_id,
                 "queued" if created else "coalesced", await self._next_seq("triggers")),
            )  # fmt: skip
        job = await self.job(job_id)
        assert job is not None
        return job, created

    async def job(self, job_id: str) -> JobRecord | None:
        rows = await self._jobs("WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    async def open_jobs(self) -> list[JobRecord]:
        return await self._jobs("WHERE state IN ('queued', 'running') ORDER BY seq", ())

    async def jobs(self, model_name: str, limit: int) -> list[JobRecord]:
        return await self._jobs("WHERE model_name = ? ORDER BY seq DESC LIMIT ?", (model_name, limit))

    async def _jobs(self, where: str, args: tuple[Any, ...]) -> list[JobRecord]:
        sql = (
            f"SELECT {_JOB_COLS}, (SELECT COUNT(*) FROM triggers t WHERE t.job_id = j.job_id) "
            f"FROM jobs j {where}"
        )
        async with self.conn.execute(sql, args) as cur:
            rows = await cur.fetchall()
        return [
            JobRecord(
                job_id=r[0],
                model_name=r[1],
                state=r[2],
                kind=r[3],
                reason=r[4],
                trigger_id=r[5],
                attempts=r[6],
                parent_version=r[7],
                version=r[8],
                data_hash=r[9],
                n_games=r[10],
                created_at=r[11],
                started_at=r[12],
                finished_at=r[13],
                error=r[14],
                triggers=r[15],
            )
            for r in rows
        ]

    async def job_started(self, job_id: str, *, parent_version: int | None, n_games: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, "
                "parent_version = ?, n_games = ? WHERE job_id = ?",
                (now(), parent_version, n_games, job_id),
            )

    async def job_finished(
        self, job_id: str, state: str, *, version: int | None = None, data_hash: str = "", error: str = ""
    ) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, version = ?, data_hash = ?, error = ? "
                "WHERE job_id = ?",
                (state, now(), version, data_hash, error[:500], job_id),
            )

    async def job_requeued(self, job_id: str, why: str) -> None:
        """A job interrupted by a stop: queued again, to run after the restart."""
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE jobs SET state = 'queued', error = ? WHERE job_id = ? AND state = 'running'",
                (why[:500], job_id),
            )

    async def trigger_ids(self, job_id: str) -> list[str]:
        """The triggers a job answers, in arrival order (the opening one first)."""
        async with self.conn.execute(
            "SELECT trigger_id FROM triggers WHERE job_id = ? ORDER BY seq", (job_id,)
        ) as cur:
            return [r[0] for r in await cur.fetchall()]

    async def triggers(self, model_name: str, limit: int) -> list[TriggerRecord]:
        async with self.conn.execute(
            "SELECT trigger_id, kind, reason, source, metrics, received_at, job_id, outcome FROM triggers "
            "WHERE model_name = ? ORDER BY seq DESC LIMIT ?",
            (model_name, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            TriggerRecord(
                trigger_id=r[0],
                kind=r[1],
                reason=r[2],
                source=r[3],
                metrics=msgspec.json.decode(r[4], type=dict[str, float]),
                received_at=r[5],
                job_id=r[6],
                outcome=r[7],
            )
            for r in rows
        ]

    # ---- the training snapshot (what "new results" are counted from) -------------------------------
    async def snapshot_games(self, model_name: str) -> int | None:
        v = await scalar(self.conn, "SELECT n_games FROM snapshots WHERE model_name = ?", (model_name,))
        return None if v is None else int(str(v))

    async def set_snapshot(self, model_name: str, n_games: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT (model_name) DO UPDATE SET "
                "n_games = excluded.n_games, at = excluded.at",
                (model_name, n_games, now()),
            )

    # ---- gate decisions -----------------------------------------------------------------------------
    async def add_decision(self, d: GateDecision) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO decisions (model_name, challenger, champion, body) "
                "VALUES (?, ?, ?, ?)",
                (d.model_name, d.challenger, d.champion, _json(d)),
            )

    async def decided(self, model_name: str, challenger: int, champion: int) -> bool:
        return bool(
            await scalar(
                self.conn,
                "SELECT 1 FROM decisions WHERE model_name = ? AND challenger = ? AND champion = ?",
                (model_name, challenger, champion),
            )
        )

    async def decisions(self, model_name: str, limit: int) -> list[GateDecision]:
        async with self.conn.execute(
            "SELECT body FROM decisions WHERE model_name = ? ORDER BY id DESC LIMIT ?", (model_name, limit)
        ) as cur:
            rows = await cur.fetchall()
        return [msgspec.json.decode(r[0], type=GateDecision) for r in rows]
